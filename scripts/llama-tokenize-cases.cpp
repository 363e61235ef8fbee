// Tokenizes texts with llama.cpp (libllama, vocabulary only) for scripts/tokenizer-reference.py.
//   llama-tokenize-cases VOCAB.gguf TEXTS
// TEXTS holds UTF-8 texts separated by NUL bytes. For each text, three lines:
//   ids with add_special = false, parse_special = false
//   ids with add_special = true,  parse_special = true
//   hex of llama_detokenize(the second ids, remove_special = false, unparse_special = true)
#include "llama.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

static std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text, bool special) {
    std::vector<llama_token> ids(text.size() + 16);
    int n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(), special, special);
    if (n < 0) {
        ids.resize(-n);
        n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(), special, special);
    }
    ids.resize(n);
    return ids;
}

static void print_ids(const std::vector<llama_token> & ids) {
    for (size_t i = 0; i < ids.size(); i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
}

int main(int argc, char ** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s VOCAB.gguf TEXTS\n", argv[0]);
        return 2;
    }
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params params = llama_model_default_params();
    params.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], params);
    if (!model) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);

    std::ifstream file(argv[2], std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (start <= all.size()) {
        size_t end = all.find('\0', start);
        if (end == std::string::npos) end = all.size();
        const std::string text = all.substr(start, end - start);

        print_ids(tokenize(vocab, text, false));
        const std::vector<llama_token> ids = tokenize(vocab, text, true);
        print_ids(ids);
        std::vector<char> out(text.size() * 4 + 256);
        int n = llama_detokenize(vocab, ids.data(), (int32_t) ids.size(), out.data(), (int32_t) out.size(), false, true);
        if (n < 0) {
            out.resize(-n);
            n = llama_detokenize(vocab, ids.data(), (int32_t) ids.size(), out.data(), (int32_t) out.size(), false, true);
        }
        for (int i = 0; i < n; i++) printf("%02x", (unsigned char) out[i]);
        printf("\n");

        start = end + 1;
    }
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
