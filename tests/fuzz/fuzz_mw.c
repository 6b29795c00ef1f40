/* tests/fuzz/fuzz_mw.c: the built-in middleware's parsers of client bytes (mw/gzip.c, mw/proxy.c,
 * mw/request_id.c). Byte 0 picks the parser (modulo 3), the rest is its input:
 * 0: an Accept-Encoding value: mw_gzip_choose answers one of its four codings, never deflate when
 *    deflate is not allowed, and gzip still when deflate is forbidden after gzip won.
 * 1: a proxy list, a LF, a header value: mw_proxy_parse_list (NUL-terminated) and, when it takes
 *    the list, mw_proxy_client on the value as X-Forwarded-For and as Forwarded: an answer is the
 *    canonical text of an address (inet_pton reads it, inet_ntop writes it back the same), shorter
 *    than MW_PROXY_ADDR_LEN, and the same on a second call.
 * 2: an X-Request-ID: mw_request_id_valid accepts exactly 1..128 bytes of the safe characters. */
#include "fuzz.h"

#include <arpa/inet.h>
#include <string.h>

#include "crest.h"
#include "mw/mw.h"

static void check_accept_encoding(const char *p, size_t n)
{
    struct crest_str ae = {p, n};
    enum mw_gzip_coding with = mw_gzip_choose(ae, true), without = mw_gzip_choose(ae, false);

    FUZZ_CHECK(with <= MW_GZIP_UNACCEPTABLE && without <= MW_GZIP_UNACCEPTABLE);
    FUZZ_CHECK(without != MW_GZIP_DEFLATE);
    if (with == MW_GZIP_GZIP) /* gzip was preferred to deflate: forbidding deflate keeps it */
        FUZZ_CHECK(without == MW_GZIP_GZIP);
    FUZZ_CHECK(mw_gzip_choose((struct crest_str){NULL, 0}, true) == MW_GZIP_IDENTITY);
}

static void check_answer(const char *out, size_t n)
{
    unsigned char a[16];
    char back[INET6_ADDRSTRLEN];

    FUZZ_CHECK(n == strlen(out) && n < MW_PROXY_ADDR_LEN);
    if (!n)
        return;
    int family = inet_pton(AF_INET, out, a) == 1 ? AF_INET : AF_INET6;
    FUZZ_CHECK(family == AF_INET || inet_pton(AF_INET6, out, a) == 1);
    FUZZ_CHECK(inet_ntop(family, a, back, sizeof(back)) && strcmp(back, out) == 0);
}

static void check_proxy(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    size_t list_len = nl ? (size_t)(nl - p) : n;
    char *list = malloc(list_len + 1), out[MW_PROXY_ADDR_LEN];
    struct mw_proxy_list l;

    FUZZ_CHECK(list != NULL);
    memcpy(list, p, list_len);
    list[list_len] = '\0';
    int rc = mw_proxy_parse_list(list, &l);
    free(list);
    FUZZ_CHECK(rc == 0 || rc == -22);
    if (rc || !nl)
        return;
    struct crest_str h = {nl + 1, n - list_len - 1};
    size_t got = mw_proxy_client(&l, (struct crest_str){NULL, 0}, h, out);
    check_answer(out, got);
    /* no state: a second call answers the same */
    FUZZ_CHECK(mw_proxy_client(&l, (struct crest_str){NULL, 0}, h, out) == got);
    got = mw_proxy_client(&l, h, (struct crest_str){NULL, 0}, out);
    check_answer(out, got);
}

static void check_request_id(const char *p, size_t n)
{
    bool ok = n >= 1 && n <= MW_REQUEST_ID_MAX;
    for (size_t i = 0; i < n && ok; i++) {
        unsigned char c = (unsigned char)p[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             (c && strchr("-_.:+/=@", c));
    }
    FUZZ_CHECK(mw_request_id_valid((struct crest_str){p, n}) == ok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* an exact-size copy, so that a read past the input is ASan's to see */
    char *p = malloc(size - 1 ? size - 1 : 1);
    FUZZ_CHECK(p != NULL);
    memcpy(p, data + 1, size - 1);
    switch (data[0] % 3) {
    case 0:
        check_accept_encoding(p, size - 1);
        break;
    case 1:
        check_proxy(p, size - 1);
        break;
    default:
        check_request_id(p, size - 1);
        break;
    }
    free(p);
    return 0;
}
