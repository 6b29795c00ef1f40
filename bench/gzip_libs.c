/* bench/gzip_libs.c: the library choice of crest's response compression (mw/gzip.c), measured:
 * for each level, the heap a compressor holds (mallinfo2 around its allocation: what a worker,
 * or with zlib's streams a connection, keeps) and the time to compress one body whole, for
 * libdeflate (one-shot) and zlib (deflateInit2 + deflate with Z_FINISH, as a server streaming per
 * response would). Built and run by bench/gzip_libs.py; prints one tab-separated line per
 * library and level: lib level state_bytes ns_per_kb out_bytes.
 *
 *     gzip_libs BODY_FILE [ROUNDS] */
#include <libdeflate.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static size_t heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void libdeflate_row(const char *body, size_t len, int level, int rounds)
{
    size_t before = heap();
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    size_t state = heap() - before, bound = libdeflate_gzip_compress_bound(c, len), n = 0;
    char *out = malloc(bound);
    double t0 = now_ns();
    for (int i = 0; i < rounds; i++)
        n = libdeflate_gzip_compress(c, body, len, out, bound);
    double ns = (now_ns() - t0) / rounds;
    printf("libdeflate\t%d\t%zu\t%.0f\t%zu\n", level, state, ns / (len / 1024.0), n);
    free(out);
    libdeflate_free_compressor(c);
}

static void zlib_row(const char *body, size_t len, int level, int rounds)
{
    z_stream z;
    size_t bound = compressBound(len) + 32, n = 0, state = 0;
    char *out = malloc(bound);
    double total = 0;
    for (int i = 0; i < rounds; i++) {
        memset(&z, 0, sizeof(z));
        size_t before = heap();
        double t0 = now_ns();
        deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY); /* gzip wrapper */
        state = heap() - before;
        z.next_in = (Bytef *)body;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)out;
        z.avail_out = (uInt)bound;
        deflate(&z, Z_FINISH);
        n = z.total_out;
        deflateEnd(&z);
        total += now_ns() - t0;
    }
    printf("zlib\t%d\t%zu\t%.0f\t%zu\n", level, state, total / rounds / (len / 1024.0), n);
    free(out);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 1;
    static char body[1 << 20];
    size_t len = fread(body, 1, sizeof(body), f);
    fclose(f);
    int rounds = argc > 2 ? atoi(argv[2]) : 2000;
    mallopt(M_MMAP_THRESHOLD, 1 << 30); /* every block on the heap: mallinfo2 sees it */
    static const int levels[] = {1, 4, 6, 9};
    for (unsigned i = 0; i < 4; i++) {
        libdeflate_row(body, len, levels[i], rounds);
        zlib_row(body, len, levels[i], rounds);
    }
    return 0;
}
