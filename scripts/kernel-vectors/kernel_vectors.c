// Multiplies quantized random matrices by activations with ggml's CPU backend, the way
// llama.cpp does for a model's weights, and writes the inputs and results for TinyLM's kernel
// tests (Tests/vectors/llama-kernels, KernelVectorTests). Built and run by
// scripts/kernel-vectors/make.py against a llama.cpp build; this file is TinyLM's own code
// calling ggml's public API.
//
//   kernel_vectors OUTDIR
//
// For each weight type and row count: random floats, quantized with ggml_quantize_chunk; the
// weight is placed in the first buffer type llama.cpp would choose for it (an "extra" buffer
// type such as CPU_REPACK where its supports_op accepts the product, as llama_model's
// weight_buft_supported asks, else the plain CPU buffer); then ggml_mul_mat by the first n
// activation rows for each batch size n, on 1 thread and on 2 (which must agree).

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COLUMNS = 512, MAX_BATCH = 64 };

static const int batches[] = {1, 2, 3, 4, 5, 6, 7, 8, 16, 64};
static const int row_counts[] = {64, 45};
static const enum ggml_type types[] = {
    GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0,
    GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t next_u32(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t) (rng_state >> 33);
}

// Uniform in (-1, 1).
static float uniform(void) { return (float) ((int32_t) next_u32() - (1 << 30)) / (float) (1 << 30); }

static void write_file(const char * dir, const char * name, const void * data, size_t bytes) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE * f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) { fprintf(stderr, "cannot write %s\n", path); exit(1); }
    fclose(f);
}

// The buffer type llama.cpp would put `weight` in for a product with `input`.
static ggml_backend_buffer_type_t weight_buffer_type(ggml_backend_dev_t cpu, struct ggml_tensor * weight,
                                                     struct ggml_tensor * input) {
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu);
    ggml_backend_dev_get_extra_bufts_t get_extra =
        (ggml_backend_dev_get_extra_bufts_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
    ggml_backend_buffer_type_t * extra = get_extra ? get_extra(cpu) : NULL;
    struct ggml_init_params params = { .mem_size = 4 * ggml_tensor_overhead(), .mem_buffer = NULL, .no_alloc = true };
    for (; extra && *extra; extra++) {
        struct ggml_context * ctx = ggml_init(params);
        struct ggml_tensor * w = ggml_dup_tensor(ctx, weight);
        struct ggml_tensor * x = ggml_dup_tensor(ctx, input);
        struct ggml_tensor * op = ggml_mul_mat(ctx, w, x);
        ggml_backend_buffer_t dummy = ggml_backend_buft_alloc_buffer(*extra, 0);
        w->buffer = dummy;
        bool supported = ggml_backend_dev_supports_op(cpu, op);
        ggml_backend_buffer_free(dummy);
        ggml_free(ctx);
        if (supported) return *extra;
    }
    return ggml_backend_cpu_buffer_type();
}

// weight × the first `batch` activation rows on `threads` threads, into `out` (batch × rows).
static void multiply(ggml_backend_t backend, ggml_backend_buffer_type_t buft, enum ggml_type type, int rows,
                     const void * weight_bytes, const float * activations, int batch, int threads, float * out) {
    struct ggml_init_params params = { .mem_size = 8 * ggml_tensor_overhead() + ggml_graph_overhead(), .mem_buffer = NULL, .no_alloc = true };
    struct ggml_context * wctx = ggml_init(params);
    struct ggml_context * ctx = ggml_init(params);
    struct ggml_tensor * w = ggml_new_tensor_2d(wctx, type, COLUMNS, rows);
    struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, COLUMNS, batch);
    struct ggml_tensor * y = ggml_mul_mat(ctx, w, x);
    ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors_from_buft(wctx, buft);
    ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors_from_buft(ctx, ggml_backend_cpu_buffer_type());
    ggml_backend_tensor_set(w, weight_bytes, 0, ggml_nbytes(w));
    ggml_backend_tensor_set(x, activations, 0, ggml_nbytes(x));
    struct ggml_cgraph * graph = ggml_new_graph(ctx);
    ggml_build_forward_expand(graph, y);
    ggml_backend_cpu_set_n_threads(backend, threads);
    if (ggml_backend_graph_compute(backend, graph) != GGML_STATUS_SUCCESS) { fprintf(stderr, "compute failed\n"); exit(1); }
    ggml_backend_tensor_get(y, out, 0, ggml_nbytes(y));
    ggml_backend_buffer_free(buf);
    ggml_backend_buffer_free(wbuf);
    ggml_free(ctx);
    ggml_free(wctx);
}

int main(int argc, char ** argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUTDIR\n", argv[0]); return 2; }
    const char * dir = argv[1];
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    ggml_backend_t backend = ggml_backend_cpu_init();

    // Activations like a model's: mostly in (-1, 1), every seventh column larger, one outlier
    // per token.
    static float activations[MAX_BATCH * COLUMNS];
    for (int t = 0; t < MAX_BATCH; t++) {
        for (int c = 0; c < COLUMNS; c++) activations[t * COLUMNS + c] = uniform() * (c % 7 == 0 ? 4.0f : 1.0f);
        activations[t * COLUMNS + next_u32() % COLUMNS] = 9.0f;
    }
    write_file(dir, "activations.f32", activations, sizeof activations);

    printf("{\n  \"columns\": %d,\n  \"batches\": [", COLUMNS);
    for (size_t i = 0; i < sizeof batches / sizeof *batches; i++) printf("%s%d", i ? ", " : "", batches[i]);
    printf("],\n  \"matrices\": [\n");
    int first = 1;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++) {
            enum ggml_type type = types[ti];
            int rows = row_counts[ri];
            // Weights: uniform values with a per-row scale and a few large ones, quantized as
            // llama-quantize does (no importance matrix).
            float * values = malloc(sizeof(float) * rows * COLUMNS);
            for (int r = 0; r < rows; r++) {
                float scale = 0.02f + 0.08f * (float) (next_u32() % 1000) / 1000.0f;
                for (int c = 0; c < COLUMNS; c++) values[r * COLUMNS + c] = scale * uniform() * (next_u32() % 61 == 0 ? 6.0f : 1.0f);
            }
            size_t bytes = ggml_row_size(type, COLUMNS) * rows;
            void * weight = malloc(bytes);
            ggml_quantize_chunk(type, values, weight, 0, rows, COLUMNS, NULL);

            struct ggml_init_params params = { .mem_size = 4 * ggml_tensor_overhead(), .mem_buffer = NULL, .no_alloc = true };
            struct ggml_context * meta = ggml_init(params);
            ggml_backend_buffer_type_t buft = weight_buffer_type(cpu, ggml_new_tensor_2d(meta, type, COLUMNS, rows),
                                                                 ggml_new_tensor_2d(meta, GGML_TYPE_F32, COLUMNS, 8));
            ggml_free(meta);

            char name[256];
            snprintf(name, sizeof name, "%s-r%d.weights", ggml_type_name(type), rows);
            write_file(dir, name, weight, bytes);
            size_t total = 0;
            for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) total += (size_t) batches[bi] * rows;
            float * results = malloc(sizeof(float) * total);
            float * check = malloc(sizeof(float) * MAX_BATCH * rows);
            float * out = results;
            for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
                int batch = batches[bi];
                multiply(backend, buft, type, rows, weight, activations, batch, 1, out);
                multiply(backend, buft, type, rows, weight, activations, batch, 2, check);
                if (memcmp(out, check, sizeof(float) * batch * rows) != 0) {
                    fprintf(stderr, "%s %d rows, batch %d: 1 and 2 threads differ\n", ggml_type_name(type), rows, batch);
                    return 1;
                }
                out += (size_t) batch * rows;
            }
            snprintf(name, sizeof name, "%s-r%d.out", ggml_type_name(type), rows);
            write_file(dir, name, results, sizeof(float) * total);
            printf("%s    {\"type\": \"%s\", \"rows\": %d, \"buffer\": \"%s\"}", first ? "" : ",\n", ggml_type_name(type), rows,
                   ggml_backend_buft_name(buft));
            first = 0;
            free(values); free(weight); free(results); free(check);
        }
    }
    printf("\n  ]\n}\n");
    ggml_backend_free(backend);
    return 0;
}
