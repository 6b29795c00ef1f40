/* obs/proc.c: /proc readers. statm is one short line, so reading it costs a few microseconds and
 * can be done on demand rather than sampled. */
#include "obs/proc.h"

#include "crest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t obs_rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = buf;
    (void)strtoull(p, &p, 10); /* size */
    unsigned long long resident = strtoull(p, NULL, 10);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

CREST_API uint64_t crest_rss_bytes(void)
{
    return obs_rss_bytes();
}

CREST_API void crest_report_startup_memory(const char *phase)
{
    double mb = (double)obs_rss_bytes() / (1024.0 * 1024.0);
    printf("[startup] Memory RSS = %.2f MB (%s)\n", mb, phase);
    fflush(stdout);
}
