import Foundation

let usage = """
usage: tinylm <command> [options]

commands:
  info      --model PATH                       architecture, sizes and tensor types of a GGUF file
  tokenize  --model PATH [--no-special] [--] TEXT
                                               token ids of TEXT as a JSON array
  generate  --model PATH (--prompt TEXT | --prompt-ids JSON) [--max-tokens N] [--temperature T]
            [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--stop STR]...
            [--ids] [--ignore-eos] [--threads N] [--context N] [--verbose]
            [--json-schema FILE | --grammar FILE | --json]
                                               raw completion (no chat template), streamed
  chat      --model PATH [--prompt TEXT] [--system TEXT] [--chat-template FILE] [--show-prompt]
            [--json-schema FILE | --grammar FILE | --json] [--tools FILE] [sampling options]
                                               chat with the model's chat format, streamed
  bench     --model PATH [-p 128] [-n 128] [-t 1,2] [-r 3] [-d 0,1024,4096]
                                               prompt-processing and generation tokens/s
  template  --template FILE --context JSONFILE render a chat template with a JSON context

--model defaults to models/SmolLM2-135M-Instruct.Q4_1.gguf (fetch it with scripts/fetch-models.sh).
"""

func run() -> Int32 {
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let command = arguments.first else {
        FileHandle.standardError.write((usage + "\n").data(using: .utf8)!)
        return 2
    }
    arguments.removeFirst()
    do {
        switch command {
        case "info": return try runInfo(arguments)
        case "tokenize": return try runTokenize(arguments)
        case "generate": return try runGenerate(arguments)
        case "chat": return try runChat(arguments)
        case "bench": return try runBench(arguments)
        case "template": return runTemplateCommand(arguments)
        case "help", "--help", "-h":
            print(usage)
            return 0
        default:
            FileHandle.standardError.write("unknown command '\(command)'\n\n\(usage)\n".data(using: .utf8)!)
            return 2
        }
    } catch let error as Arguments.UsageError {
        FileHandle.standardError.write("error: \(error.description)\n\n\(usage)\n".data(using: .utf8)!)
        return 2
    } catch {
        FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
        return 1
    }
}

exit(run())
