import Foundation

let usage = """
usage: tinylm <command> [options]

commands:
  info      --model PATH [--json] [--metadata] [--tensors]
                                               architecture, sizes, tensor types and recommended
                                               sampling of a GGUF file (--json: the model info JSON)
  tokenize  --model PATH [--no-special] [--add-bos] [--pieces] [--] TEXT
                                               token ids of TEXT as a JSON array (the model may
                                               be a vocabulary-only GGUF)
  generate  --model PATH (--prompt TEXT | --prompt-ids JSON) [--max-tokens N] [--temperature T]
            [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--stop STR]...
            [--ids] [--ignore-eos] [--threads N] [--context N] [--verbose]
            [--json-schema FILE | --grammar FILE | --json] [--lora FILE]... [--lora-scaled FILE:SCALE]...
                                               raw completion (no chat template), streamed
  chat      --model PATH [--prompt TEXT] [--system TEXT] [--chat-template FILE] [--show-prompt]
            [--json-schema FILE | --grammar FILE | --json] [--tools FILE [--tool-choice C]]
            [sampling options] [--lora FILE]... [--lora-scaled FILE:SCALE]...
                                               chat with the model's chat format, streamed;
                                               --tool-choice auto (default: text or a call),
                                               required, none, or a tool's name
            [--knowledge FILE [--embedder PATH] [--k 3]]
                                               with --knowledge: answers from the passages the
                                               knowledge file holds for each question, and
                                               prints their sources
  bench     --model PATH [-p 128] [-n 128] [-t 1,2] [-r 3] [-d 0,1024] [--no-avx512]
            [--lora FILE]... [--lora-scaled FILE:SCALE]...
                                               prompt-processing and generation tokens/s (with
                                               adapters: each test without and with them, alternately)
  template  --template FILE --context JSONFILE render a chat template with a JSON context
  embed     --model PATH [--pooling mean|cls] [--max-tokens N] [--ids] [--threads N] [--] TEXT...
                                               one embedding (JSON array) per TEXT and line;
                                               --ids: the token ids embedded instead
  index     --out FILE [--embedder PATH] [--vectors int8|f16|f32] [--chunk-tokens 160]
            [--overlap 32] [--base-url URL] [--threads N] DIR_OR_FILE...
                                               knowledge file from .md/.txt/.html documents
  search    --knowledge FILE [--embedder PATH] [--k 3] [--] QUERY...
                                               the best passages for each query, with scores
                                               (--synthetic N [--vectors int8] --repeat R --verbose:
                                               exact-search timing over N random vectors)
  manifest create FILE [--version V] [--sign KEYFILE] [--out PATH] [--name NAME]
                                               write FILE.manifest.json: size, SHA-256 of the file
                                               and of each 4 MiB chunk, optional Ed25519 signature
  manifest keygen [--out PREFIX]               new Ed25519 key: PREFIX.key (private), PREFIX.pub
  manifest verify FILE [--manifest M] [--public-key K]
                                               check FILE against its manifest (and signature)

--model defaults to models/SmolLM2-135M-Instruct.Q4_1.gguf (fetch it with scripts/fetch-models.sh);
embed's --model and --embedder to models/all-MiniLM-L6-v2.gguf (scripts/fetch-models.sh minilm).
Sampling defaults to the model's recommended settings (`tinylm info` shows them and where they
come from); the flags override them. A constrained output that had to be steered to fit
--max-tokens ends with finish reason constraint_budget (noted on stderr).
--lora FILE applies a LoRA adapter in llama.cpp's GGUF form (scripts/convert-lora.py makes one from
a PEFT adapter) at scale 1, --lora-scaled FILE:SCALE at another scale; both may repeat.
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
        case "embed": return try runEmbed(arguments)
        case "index": return try runIndex(arguments)
        case "search": return try runSearch(arguments)
        case "manifest": return try runManifest(arguments)
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
