/* app/static.c: a directory served under a path prefix (crest_app_add_static, Starlette's
 * StaticFiles): GET {prefix}/{path:path} answers the file at path below the directory, with
 * everything crest_res_file does (validators, 304/412, ranges, sendfile). The kernel keeps the
 * request inside the directory: openat2 with RESOLVE_BENEATH refuses "..", absolute paths and
 * symbolic links that lead out of it, and RESOLVE_NO_MAGICLINKS /proc's links; crest refuses
 * hidden names (a segment starting with '.') before asking. Anything refused is a 404, as a file
 * that is not there: nothing tells a client what exists outside. */
#include "app/app.h"

#include "mem/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct mount {
    struct app_part part; /* first: the app frees the mount with itself */
    int dir_fd;           /* O_PATH descriptor of the directory */
    char route[512];      /* "{prefix}/{path:path}": the route borrows it */
};

static void mount_free(struct app_part *part)
{
    struct mount *m = (struct mount *)part;
    close(m->dir_fd);
    mem_free(MEM_APP, m, sizeof(*m));
}

static const struct app_part_ops mount_ops = {.free = mount_free};

/* Whether every '/'-separated segment of a decoded path is a plain visible name. */
static bool plain_names(struct crest_str path)
{
    size_t i = 0;
    while (i < path.len) {
        size_t start = i;
        while (i < path.len && path.ptr[i] != '/')
            i++;
        if (i == start || path.ptr[start] == '.')
            return false; /* empty, ".", "..", or hidden */
        i++;
    }
    return path.len > 0 && memchr(path.ptr, '\0', path.len) == NULL;
}

static int open_beneath(int dir_fd, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
    return fd < 0 ? -errno : (int)fd;
}

static enum crest_handler_result serve_file(struct crest_req *req, void *ud)
{
    const struct mount *m = ud;
    struct crest_str path;
    int fd, err;

    if (crest_path_str(req, "path", &path) != 0 || !plain_names(path) ||
        (fd = open_beneath(m->dir_fd, path.ptr)) < 0) {
        err = crest_res_error(req, 404, "Not Found");
        (void)err; /* even a 404 without memory: crest answers 503 itself */
        return CREST_DONE;
    }
    err = crest_res_file_take(req, fd, crest_file_type(path.ptr));
    if (err == -EISDIR || err == -EINVAL)
        err = crest_res_error(req, 404, "Not Found"); /* a directory, a device: not a file */
    if (err)
        crest_res_status(req, 503); /* -ENOMEM: the answer checked after the handler says so */
    return CREST_DONE;
}

CREST_API int crest_app_add_static(struct crest_app *app, const char *prefix, const char *dir)
{
    struct mount *m;
    int n;

    if (!prefix || prefix[0] != '/' || !dir)
        return -EINVAL;
    m = mem_calloc(MEM_APP, 1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    n = snprintf(m->route, sizeof(m->route), "%s/{path:path}",
                 strcmp(prefix, "/") == 0 ? "" : prefix);
    if (n < 0 || (size_t)n >= sizeof(m->route)) {
        mem_free(MEM_APP, m, sizeof(*m));
        return -EINVAL;
    }
    m->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (m->dir_fd < 0) {
        int err = -errno;
        mem_free(MEM_APP, m, sizeof(*m));
        return err;
    }
    m->part.ops = &mount_ops;
    app_part_add(app, &m->part); /* freed with the app, whatever happens below */
    const struct crest_route route = {
        .method = "GET", .path = m->route, .handler = serve_file, .ud = m, .hidden = true};
    return crest_app_add_route(app, &route, NULL);
}
