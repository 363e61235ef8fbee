// The llama.cpp side of scripts/llama-reference.py: a few calls into libllama, compiled by
// that script against the llama.cpp build it is given (never committed as a binary).
//
//   llama-reference tokenize MODEL ADD_SPECIAL PARSE_SPECIAL < text     token ids, one line
//   llama-reference pieces MODEL ID...                                   each token's bytes, hex, one per line
//   llama-reference eog MODEL ID...                                      1 or 0 per id: end-of-generation?
//   llama-reference run MODEL N_CTX N_GEN THREADS OUT.f32 ID...
//       evaluates the prompt ids in one batch, then N_GEN greedy steps one token at a time
//       (argmax, ties to the lowest id, not stopping at end-of-generation tokens); writes the
//       N_GEN logit vectors each step chose from (float32, n_vocab each) to OUT.f32 and
//       prints the generated ids. Flash attention on, f16 KV cache, CPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char * text, void * user) {
    (void) user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static struct llama_model * load(const char * path) {
    struct llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = 0;
    struct llama_model * model = llama_model_load_from_file(path, params);
    if (!model) { fprintf(stderr, "cannot load %s\n", path); exit(1); }
    return model;
}

static char * read_stdin(size_t * length) {
    size_t capacity = 1 << 16, used = 0;
    char * text = malloc(capacity);
    size_t n;
    while ((n = fread(text + used, 1, capacity - used, stdin)) > 0) {
        used += n;
        if (used == capacity) text = realloc(text, capacity *= 2);
    }
    *length = used;
    return text;
}

static int tokenize(const struct llama_vocab * vocab, int add_special, int parse_special) {
    size_t length;
    char * text = read_stdin(&length);
    int capacity = (int) length + 16;
    llama_token * ids = malloc(sizeof(llama_token) * capacity);
    int n = llama_tokenize(vocab, text, (int32_t) length, ids, capacity, add_special, parse_special);
    if (n < 0) { fprintf(stderr, "tokenize failed (%d)\n", n); return 1; }
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
    return 0;
}

static int pieces(const struct llama_vocab * vocab, int count, char ** ids) {
    char buffer[1024];
    for (int i = 0; i < count; i++) {
        int n = llama_token_to_piece(vocab, atoi(ids[i]), buffer, sizeof buffer, 0, true);
        if (n < 0) { fprintf(stderr, "piece of %s failed\n", ids[i]); return 1; }
        for (int j = 0; j < n; j++) printf("%02x", (unsigned char) buffer[j]);
        printf("\n");
    }
    return 0;
}

static int run(struct llama_model * model, int n_ctx, int n_gen, int threads, const char * out_path, int count, char ** ids) {
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    struct llama_context_params params = llama_context_default_params();
    params.n_ctx = n_ctx;
    params.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    params.type_k = GGML_TYPE_F16;
    params.type_v = GGML_TYPE_F16;
    params.n_threads = threads;
    params.n_threads_batch = threads;
    params.no_perf = true;
    struct llama_context * ctx = llama_init_from_model(model, params);
    if (!ctx) { fprintf(stderr, "cannot create a context\n"); return 1; }

    llama_token * prompt = malloc(sizeof(llama_token) * count);
    for (int i = 0; i < count; i++) prompt[i] = atoi(ids[i]);
    FILE * out = fopen(out_path, "wb");
    if (!out) { fprintf(stderr, "cannot write %s\n", out_path); return 1; }
    // The whole prompt in one batch; llama_batch_get_one asks for the last token's logits.
    if (llama_decode(ctx, llama_batch_get_one(prompt, count)) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
    for (int step = 0; step < n_gen; step++) {
        const float * logits = llama_get_logits_ith(ctx, -1);
        fwrite(logits, sizeof(float), n_vocab, out);
        llama_token best = 0;
        for (int i = 1; i < n_vocab; i++) if (logits[i] > logits[best]) best = i;
        printf(step ? " %d" : "%d", best);
        if (step + 1 < n_gen && llama_decode(ctx, llama_batch_get_one(&best, 1)) != 0) {
            fprintf(stderr, "decode failed at step %d\n", step);
            return 1;
        }
    }
    printf("\n");
    fclose(out);
    llama_free(ctx);
    return 0;
}

int main(int argc, char ** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s tokenize|pieces|eog|run MODEL ...\n", argv[0]);
        return 2;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model * model = load(argv[2]);
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    int status = 2;
    if (strcmp(argv[1], "tokenize") == 0 && argc == 5) {
        status = tokenize(vocab, atoi(argv[3]), atoi(argv[4]));
    } else if (strcmp(argv[1], "pieces") == 0) {
        status = pieces(vocab, argc - 3, argv + 3);
    } else if (strcmp(argv[1], "eog") == 0) {
        for (int i = 3; i < argc; i++) printf("%d\n", llama_vocab_is_eog(vocab, atoi(argv[i])) ? 1 : 0);
        status = 0;
    } else if (strcmp(argv[1], "run") == 0 && argc >= 8) {
        status = run(model, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6], argc - 7, argv + 7);
    } else {
        fprintf(stderr, "bad arguments\n");
    }
    llama_model_free(model);
    llama_backend_free();
    return status;
}
