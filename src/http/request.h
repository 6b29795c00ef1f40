/* http/request.h: one HTTP request and the response being built for it, as the session hands it
 * to the application. Slices point into the connection's read buffer or the request arena and
 * live until the response is finished. The application's own request type embeds this struct
 * first and adds what it needs (the session reserves http_server.request_size bytes). */
#ifndef CREST_HTTP_REQUEST_H
#define CREST_HTTP_REQUEST_H

#include "crest.h"
#include "http/parse.h"
#include "mem/arena.h"
#include "mem/buf.h"
#include "net/loop.h"

struct net_worker;
struct net_conn;
struct http_request;
struct http_upload;

struct http_timer {
    struct net_timer timer;
    struct http_request *req;
    crest_req_timer_fn cb;
    void *ud;
    struct http_timer *next;
};

struct http_request {
    struct net_worker *worker;
    struct net_conn *conn;
    const char *buf; /* first byte of the request: parser offsets are relative to it */
    const struct http_parser *parser;
    uint8_t method;     /* enum crest_method */
    bool head_only;     /* HEAD: send the headers a GET would, no body */
    bool close;         /* Connection: close after this response */
    bool keep_alive_10; /* an HTTP/1.0 keep-alive client: say so in the response */
    bool pending;       /* the handler returned CREST_PENDING and has not finished */
    bool finished;      /* crest_req_finish was called inside the handler */
    bool in_handler;
    uint16_t status;
    uint64_t start_us;       /* when its bytes were read (the loop's clock) */
    struct crest_str target; /* as sent */
    struct crest_str path;   /* still percent-encoded, no query */
    struct crest_str query;
    struct crest_str body;
    const char *content_type; /* static or arena storage */
    struct mem_arena *arena;
    struct mem_buf *res_headers; /* "Name: value\r\n" lines added by the handler */
    struct mem_buf *res_body;
    struct http_timer *timers;
    struct crest_stream *stream; /* a streamed body (crest_res_stream), or NULL */
    struct net_tunnel *tunnel;   /* takes the connection once the head is out (WebSocket, SSE) */
    uint8_t tunnel_framing;      /* enum http_framing of that head */
    struct http_upload *upload;  /* the consumer of a streamed body (crest_req_body_read) */
    bool body_streamed;          /* the route takes its body as a stream: it is not in body */
    uint64_t body_received;      /* body bytes handed to the consumer */
    bool has_file;               /* the body is file_len bytes of file_fd from file_off */
    int file_fd;                 /* owned until the session hands it to net */
    int64_t file_off;
    uint64_t file_len;
};

/* The peer's address as text (net_conn_peer_name), read once while the connection holds its
 * session (a burst of keep-alive or pipelined requests) and kept in it: valid until the response
 * is finished. {"", 0} when it cannot be read. */
struct crest_str http_request_peer(struct http_request *req);

/* Finishes the response of a pending request from outside its handler. */
void http_request_finish(struct http_request *req);
/* A pending request named its body's consumer (crest_req_body_read) outside the session's own
 * call of the handler (a hook's continuation): the session starts reading the body. */
void http_request_upload(struct http_request *req);

#endif
