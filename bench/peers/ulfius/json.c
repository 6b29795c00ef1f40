/* bench/peers/ulfius/json.c: ulfius (Debian libulfius-dev: libmicrohttpd + jansson) serving
 * GET /json -> {"message":"Hello, World!"} on 127.0.0.1:PORT for bench/compare.py, with
 * ulfius_start_framework's defaults. The body is built with jansson, as an ulfius application's
 * would be. Runs until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ulfius.h>

static int hello(const struct _u_request *req, struct _u_response *res, void *user_data)
{
    json_t *body = json_pack("{ss}", "message", "Hello, World!");

    (void)req;
    (void)user_data;
    ulfius_set_json_body_response(res, 200, body);
    json_decref(body);
    return U_CALLBACK_CONTINUE;
}

int main(int argc, char **argv)
{
    struct _u_instance app;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    unsigned int port;
    sigset_t stop;
    int sig;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    port = (unsigned int)atoi(argv[1]);
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Blocked before any thread starts, so only sigwait below takes them. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    if (ulfius_init_instance(&app, port, &addr, NULL) != U_OK)
        return 1; /* ulfius has logged why */
    ulfius_add_endpoint_by_val(&app, "GET", "/json", NULL, 0, &hello, NULL);
    if (ulfius_start_framework(&app) != U_OK) {
        fprintf(stderr, "ulfius_start_framework failed\n");
        return 1;
    }
    sigwait(&stop, &sig);
    ulfius_stop_framework(&app);
    ulfius_clean_instance(&app);
    return 0;
}
