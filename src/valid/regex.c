/* valid/regex.c: the pattern rule's engine, a Thompson NFA (Ken Thompson 1968; Russ Cox, "Regular
 * Expression Matching Can Be Simple And Fast"): the pattern is parsed into a tree, compiled into a
 * program of byte sets, splits and jumps, and run over the text with every live state at once, so
 * a match costs O(program × text) time whatever the pattern and input, and O(program) memory in
 * the request's arena. Nothing backtracks: "(a+)+$" against 100,000 "a"s and a "!" is linear
 * (tests/unit/test_valid_models.c counts the steps). pydantic's default engine (Rust's regex
 * crate) makes the same promise and refuses the same things: backreferences and look-around.
 * Why not a library: docs/dependencies.md.
 *
 * Bytes, not code points, are the alphabet: a literal of several UTF-8 bytes is their sequence,
 * and '.', a negated class or \D \W \S that takes a lead byte also takes its continuation bytes,
 * so they match one character. \d \w \s are ASCII (Rust's are Unicode-aware: a documented
 * difference). Only the yes/no answer of a search is needed, so there are no captures. */
#include "valid/valid.h"

#include "mem/arena.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

enum { RX_MAX_PROGRAM = 20000, RX_MAX_DEPTH = 200, RX_MAX_REPEAT = 1000, RX_MAX_PATTERN = 2000 };

enum rx_op { RX_SET, RX_SPLIT, RX_JMP, RX_BOL, RX_EOL, RX_MATCH };

struct rx_inst {
    uint8_t op;
    uint16_t set; /* RX_SET: index into sets */
    uint32_t x, y;
};

struct rx_set {
    uint8_t bits[32];
};

enum rx_node_kind { RN_SET, RN_CAT, RN_ALT, RN_REPEAT, RN_BOL, RN_EOL, RN_EMPTY };

struct rx_node {
    uint8_t kind;
    bool utf8_tail; /* RN_SET: continuation bytes may follow a lead byte */
    uint16_t set;
    int32_t min, max; /* RN_REPEAT; max -1: unbounded */
    struct rx_node *a, *b;
};

struct valid_regex {
    struct rx_inst *prog;
    uint32_t n;
    struct rx_set *sets;
};

struct rx_parser {
    const char *p;
    struct mem_arena *arena;
    struct rx_set *sets;
    uint32_t n_sets, cap_sets;
    unsigned depth;
    const char *why;
    int err;
};

/* ---- parsing into a tree ---- */

static struct rx_node *node(struct rx_parser *ps, uint8_t kind, struct rx_node *a,
                            struct rx_node *b)
{
    struct rx_node *n = mem_arena_alloc(ps->arena, sizeof(*n));
    if (!n) {
        ps->err = -ENOMEM;
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->a = a;
    n->b = b;
    return n;
}

static struct rx_node *syntax(struct rx_parser *ps, const char *why)
{
    if (!ps->err) {
        ps->err = -EINVAL;
        ps->why = why;
    }
    return NULL;
}

static int new_set(struct rx_parser *ps)
{
    if (ps->n_sets == ps->cap_sets) {
        uint32_t cap = ps->cap_sets ? ps->cap_sets * 2 : 16;
        if (cap > UINT16_MAX)
            return -1;
        struct rx_set *s = mem_arena_alloc(ps->arena, cap * sizeof(*s));
        if (!s) {
            ps->err = -ENOMEM;
            return -1;
        }
        if (ps->n_sets)
            memcpy(s, ps->sets, ps->n_sets * sizeof(*s));
        ps->sets = s;
        ps->cap_sets = cap;
    }
    memset(&ps->sets[ps->n_sets], 0, sizeof(struct rx_set));
    return (int)ps->n_sets++;
}

static void set_add(struct rx_set *s, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        s->bits[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static bool set_has(const struct rx_set *s, unsigned c)
{
    return s->bits[c >> 3] & (1u << (c & 7));
}

/* \d \w \s and their negations into s; false for another letter. */
static bool class_escape(struct rx_set *s, char e, bool *negated)
{
    *negated = e == 'D' || e == 'W' || e == 'S';
    switch (e | 0x20) {
    case 'd':
        set_add(s, '0', '9');
        return true;
    case 'w':
        set_add(s, '0', '9'), set_add(s, 'A', 'Z'), set_add(s, 'a', 'z'), set_add(s, '_', '_');
        return true;
    case 's':
        set_add(s, '\t', '\r'), set_add(s, ' ', ' ');
        return true;
    default:
        return false;
    }
}

/* A one-byte escape (\n, \., \xHH...): the byte, or -1. */
static int byte_escape(struct rx_parser *ps)
{
    char e = *ps->p;
    if (!e)
        return -1; /* a pattern ending in a backslash */
    ps->p++;
    static const char punct[] = ".\\+*?()|[]{}^$-/#&~ \"'!,:;<=>@`%";
    switch (e) {
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    case 'x': {
        int v = 0;
        for (int i = 0; i < 2; i++, ps->p++) {
            char c = *ps->p | 0x20;
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                return -1;
            v = v * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
        }
        return v;
    }
    default:
        return e && strchr(punct, e) ? (unsigned char)e : -1;
    }
}

/* A negated set takes every lead byte it does not exclude, so that it matches characters. */
static void finish_set(struct rx_set *s, bool negated)
{
    if (!negated)
        return;
    for (unsigned i = 0; i < 32; i++)
        s->bits[i] = (uint8_t)~s->bits[i];
    for (unsigned c = 0x80; c < 0xC0; c++) /* continuations come through the tail only */
        s->bits[c >> 3] &= (uint8_t) ~(1u << (c & 7));
}

static struct rx_node *set_node(struct rx_parser *ps, int set, bool negated)
{
    struct rx_node *n = node(ps, RN_SET, NULL, NULL);
    if (!n)
        return NULL;
    n->set = (uint16_t)set;
    finish_set(&ps->sets[set], negated);
    n->utf8_tail = negated;
    return n;
}

static int class_item(struct rx_parser *ps, struct rx_set *s, bool *negated_escape)
{
    *negated_escape = false;
    if (*ps->p == '\\') {
        ps->p++;
        if (class_escape(s, *ps->p, negated_escape)) {
            ps->p++;
            return -2; /* a whole class, no range */
        }
        return byte_escape(ps);
    }
    if ((unsigned char)*ps->p >= 0x80)
        return -1; /* non-ASCII in a class: not taken (bytes would be wrong) */
    return (unsigned char)*ps->p++;
}

static struct rx_node *parse_class(struct rx_parser *ps)
{
    bool negated = *ps->p == '^';
    int set = new_set(ps);
    if (set < 0)
        return ps->err ? NULL : syntax(ps, "too many classes");
    ps->p += negated;
    bool first = true;
    while (*ps->p && (*ps->p != ']' || first)) {
        struct rx_set *s = &ps->sets[set];
        bool neg_esc;
        int lo = class_item(ps, s, &neg_esc), hi;
        first = false;
        if (neg_esc)
            return syntax(ps, "\\D, \\W or \\S inside a class");
        if (lo == -2)
            continue;
        if (lo < 0)
            return syntax(ps, "a class holds a byte escape or character crest does not take");
        hi = lo;
        if (ps->p[0] == '-' && ps->p[1] && ps->p[1] != ']') {
            ps->p++;
            hi = class_item(ps, s, &neg_esc);
            if (hi < lo)
                return syntax(ps, "a class range out of order");
        }
        set_add(s, (unsigned)lo, (unsigned)hi);
    }
    if (*ps->p != ']')
        return syntax(ps, "a class without its ]");
    ps->p++;
    return set_node(ps, set, negated);
}

static struct rx_node *byte_node(struct rx_parser *ps, unsigned char c)
{
    int set = new_set(ps);
    if (set < 0)
        return ps->err ? NULL : syntax(ps, "too many characters");
    set_add(&ps->sets[set], c, c);
    return set_node(ps, set, false);
}

static struct rx_node *parse_alt(struct rx_parser *ps);

static struct rx_node *parse_group(struct rx_parser *ps)
{
    if (*ps->p == '?') {
        if (ps->p[1] == ':') {
            ps->p += 2;
        } else if (ps->p[1] == 'P' && ps->p[2] == '<') {
            ps->p += 3; /* a named group: the name does not matter to a yes/no answer */
        } else if (ps->p[1] == '<' && ps->p[2] != '=' && ps->p[2] != '!') {
            ps->p += 2;
        } else {
            return syntax(ps, "look-around and inline flags are not supported");
        }
        if (ps->p[-1] == '<') {
            while (*ps->p && *ps->p != '>')
                ps->p++;
            if (*ps->p++ != '>')
                return syntax(ps, "a group name without its >");
        }
    }
    struct rx_node *n = parse_alt(ps);
    if (!n)
        return NULL;
    if (*ps->p != ')')
        return syntax(ps, "a group without its )");
    ps->p++;
    return n;
}

static struct rx_node *parse_atom(struct rx_parser *ps)
{
    unsigned char c = (unsigned char)*ps->p++;
    bool negated;
    switch (c) {
    case '(':
        return parse_group(ps);
    case '[':
        return parse_class(ps);
    case '^':
        return node(ps, RN_BOL, NULL, NULL);
    case '$':
        return node(ps, RN_EOL, NULL, NULL);
    case '.': {
        int set = new_set(ps);
        if (set < 0)
            return ps->err ? NULL : syntax(ps, "too many classes");
        set_add(&ps->sets[set], '\n', '\n');
        return set_node(ps, set, true);
    }
    case '*':
    case '+':
    case '?':
        return syntax(ps, "a repetition of nothing");
    case '\\': {
        int set = new_set(ps);
        if (set < 0)
            return ps->err ? NULL : syntax(ps, "too many classes");
        if (class_escape(&ps->sets[set], *ps->p, &negated)) {
            ps->p++;
            return set_node(ps, set, negated);
        }
        ps->n_sets--;
        if (*ps->p >= '1' && *ps->p <= '9')
            return syntax(ps, "backreferences are not supported");
        int b = byte_escape(ps);
        return b < 0 ? syntax(ps, "an escape crest does not take (\\b, \\p, \\A...)")
                     : byte_node(ps, (unsigned char)b);
    }
    default:
        return byte_node(ps, c);
    }
}

/* {n}, {n,}, {n,m}: true with min and max when the text at p is one. */
static bool counted(const char **pp, int32_t *min, int32_t *max)
{
    const char *p = *pp + 1;
    long lo = 0, hi;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9' && lo <= RX_MAX_REPEAT)
        lo = lo * 10 + (*p++ - '0');
    hi = lo;
    if (*p == ',') {
        p++;
        hi = -1;
        if (*p >= '0' && *p <= '9')
            for (hi = 0; *p >= '0' && *p <= '9' && hi <= RX_MAX_REPEAT;)
                hi = hi * 10 + (*p++ - '0');
    }
    if (*p != '}')
        return false;
    *pp = p + 1;
    *min = (int32_t)lo;
    *max = (int32_t)hi;
    return true;
}

static struct rx_node *parse_repeat(struct rx_parser *ps)
{
    struct rx_node *n = parse_atom(ps);
    while (n) {
        int32_t min, max;
        char c = *ps->p;
        if (c == '*' || c == '+' || c == '?') {
            min = c == '+';
            max = c == '?' ? 1 : -1;
            ps->p++;
        } else if (c != '{' || !counted(&ps->p, &min, &max)) {
            break;
        }
        if (min > RX_MAX_REPEAT || max > RX_MAX_REPEAT || (max >= 0 && max < min))
            return syntax(ps, "a repetition count over 1000 or out of order");
        if (*ps->p == '?')
            ps->p++; /* lazy: the same yes/no answer */
        struct rx_node *r = node(ps, RN_REPEAT, n, NULL);
        if (!r)
            return NULL;
        r->min = min;
        r->max = max;
        n = r;
    }
    return n;
}

static struct rx_node *parse_cat(struct rx_parser *ps)
{
    struct rx_node *n = NULL;
    while (*ps->p && *ps->p != '|' && *ps->p != ')') {
        struct rx_node *next = parse_repeat(ps);
        if (!next)
            return NULL;
        n = n ? node(ps, RN_CAT, n, next) : next;
        if (!n)
            return NULL;
    }
    return n ? n : node(ps, RN_EMPTY, NULL, NULL);
}

static struct rx_node *parse_alt(struct rx_parser *ps)
{
    if (++ps->depth > RX_MAX_DEPTH)
        return syntax(ps, "groups nested too deep");
    struct rx_node *n = parse_cat(ps);
    while (n && *ps->p == '|') {
        ps->p++;
        struct rx_node *r = parse_cat(ps);
        n = r ? node(ps, RN_ALT, n, r) : NULL;
    }
    ps->depth--;
    return n;
}

/* ---- compiling the tree into a program ---- */

/* Program size, saturated past the limit (nested counts multiply). */
static uint64_t size_of(const struct rx_node *n)
{
    uint64_t a;
    switch (n->kind) {
    case RN_SET:
        return n->utf8_tail ? 4 : 1; /* set; split; continuation; jmp */
    case RN_CAT:
        return size_of(n->a) + size_of(n->b);
    case RN_ALT:
        return 2 + size_of(n->a) + size_of(n->b);
    case RN_REPEAT:
        a = size_of(n->a);
        if (a > RX_MAX_PROGRAM)
            return a;
        return (n->max < 0 ? (uint64_t)n->min + 1 : (uint64_t)n->max) * (a + 2);
    case RN_EMPTY:
        return 0;
    default:
        return 1;
    }
}

struct rx_emit {
    struct rx_inst *prog;
    uint32_t n;
    int set_tail; /* the continuation-byte set, shared */
};

static uint32_t emit(struct rx_emit *e, uint8_t op, uint32_t x, uint32_t y)
{
    e->prog[e->n] = (struct rx_inst){.op = op, .x = x, .y = y};
    return e->n++;
}

static void compile(struct rx_emit *e, const struct rx_node *n);

static void compile_repeat(struct rx_emit *e, const struct rx_node *n)
{
    for (int32_t i = 0; i < n->min; i++)
        compile(e, n->a);
    if (n->max < 0) { /* L: split body, out; body; jmp L */
        uint32_t split = emit(e, RX_SPLIT, 0, 0);
        e->prog[split].x = e->n;
        compile(e, n->a);
        emit(e, RX_JMP, split, 0);
        e->prog[split].y = e->n;
        return;
    }
    for (int32_t i = n->min; i < n->max; i++) { /* optional copies: split body, out */
        uint32_t split = emit(e, RX_SPLIT, 0, 0);
        e->prog[split].x = e->n;
        compile(e, n->a);
        e->prog[split].y = e->n;
    }
}

static void compile(struct rx_emit *e, const struct rx_node *n)
{
    switch (n->kind) {
    case RN_SET: {
        uint32_t i = emit(e, RX_SET, 0, 0);
        e->prog[i].set = n->set;
        if (n->utf8_tail) { /* then any continuation bytes: split cont, out; cont; jmp split */
            uint32_t split = emit(e, RX_SPLIT, e->n + 1, e->n + 3);
            uint32_t cont = emit(e, RX_SET, 0, 0);
            e->prog[cont].set = (uint16_t)e->set_tail;
            emit(e, RX_JMP, split, 0);
        }
        return;
    }
    case RN_CAT:
        compile(e, n->a);
        compile(e, n->b);
        return;
    case RN_ALT: {
        uint32_t split = emit(e, RX_SPLIT, e->n + 1, 0);
        compile(e, n->a);
        uint32_t jmp = emit(e, RX_JMP, 0, 0);
        e->prog[split].y = e->n;
        compile(e, n->b);
        e->prog[jmp].x = e->n;
        return;
    }
    case RN_REPEAT:
        compile_repeat(e, n);
        return;
    case RN_BOL:
        emit(e, RX_BOL, 0, 0);
        return;
    case RN_EOL:
        emit(e, RX_EOL, 0, 0);
        return;
    default:
        return;
    }
}

int valid_regex_compile(const char *pattern, struct mem_arena *arena, struct valid_regex **out,
                        const char **why)
{
    struct rx_parser ps = {.p = pattern, .arena = arena};
    if (strlen(pattern) > RX_MAX_PATTERN) { /* the compiler recurses along it */
        *why = "the pattern is longer than 2000 bytes";
        return -EINVAL;
    }
    int tail = new_set(&ps);
    if (tail < 0)
        return -ENOMEM;
    set_add(&ps.sets[tail], 0x80, 0xBF);
    struct rx_node *tree = parse_alt(&ps);
    if (tree && *ps.p) /* a ) with no ( */
        tree = syntax(&ps, "a ) without its (");
    if (!tree) {
        *why = ps.why;
        return ps.err ? ps.err : -EINVAL;
    }
    uint64_t size = size_of(tree) + 1;
    if (size > RX_MAX_PROGRAM) {
        *why = "the pattern compiles to more than 20000 steps";
        return -EINVAL;
    }
    struct valid_regex *re = mem_arena_alloc(arena, sizeof(*re));
    struct rx_inst *prog = mem_arena_alloc(arena, size * sizeof(*prog));
    if (!re || !prog)
        return -ENOMEM;
    struct rx_emit e = {.prog = prog, .set_tail = tail};
    compile(&e, tree);
    emit(&e, RX_MATCH, 0, 0);
    *re = (struct valid_regex){.prog = prog, .n = e.n, .sets = ps.sets};
    *out = re;
    return 0;
}

/* ---- running it: every live state at once ---- */

_Thread_local uint64_t valid_regex_steps;

struct rx_list {
    uint32_t *pcs;
    uint32_t n;
};

struct rx_run {
    const struct valid_regex *re;
    uint32_t *mark; /* the step a state was last added in: no state is added twice per step */
    uint32_t *stack;
    size_t len;
};

/* Adds pc and what it reaches without reading a byte, at position pos; true when MATCH is. */
static bool add(struct rx_run *r, struct rx_list *l, uint32_t pc, size_t pos, uint32_t step)
{
    uint32_t sp = 0;
    r->stack[sp++] = pc;
    while (sp) {
        pc = r->stack[--sp];
        if (r->mark[pc] == step)
            continue;
        r->mark[pc] = step;
        valid_regex_steps++;
        const struct rx_inst *in = &r->re->prog[pc];
        switch (in->op) {
        case RX_JMP:
            r->stack[sp++] = in->x;
            break;
        case RX_SPLIT:
            r->stack[sp++] = in->y;
            r->stack[sp++] = in->x;
            break;
        case RX_BOL:
            if (pos == 0)
                r->stack[sp++] = pc + 1;
            break;
        case RX_EOL:
            if (pos == r->len)
                r->stack[sp++] = pc + 1;
            break;
        case RX_MATCH:
            return true;
        default:
            l->pcs[l->n++] = pc;
        }
    }
    return false;
}

int valid_regex_search(const struct valid_regex *re, const char *text, size_t len,
                       struct mem_arena *arena)
{
    /* each state is marked once per step, so the stack and the lists never hold more than
     * the program has states (the stack: one push per mark, two for a split) */
    size_t n = re->n;
    uint32_t *mem = mem_arena_alloc(arena, (5 * n + 1) * sizeof(uint32_t));
    if (!mem)
        return -ENOMEM;
    memset(mem, 0xff, n * sizeof(uint32_t));
    struct rx_run r = {.re = re, .mark = mem, .stack = mem + n, .len = len};
    struct rx_list cur = {mem + 3 * n + 1, 0}, next = {mem + 4 * n + 1, 0};
    for (size_t pos = 0;; pos++) {
        /* search: a new attempt starts at every position (an implicit leading .*?) */
        if (add(&r, &cur, 0, pos, (uint32_t)pos))
            return 1;
        if (pos == len)
            return 0;
        unsigned char c = (unsigned char)text[pos];
        next.n = 0;
        for (uint32_t i = 0; i < cur.n; i++) {
            const struct rx_inst *in = &re->prog[cur.pcs[i]];
            if (set_has(&re->sets[in->set], c) &&
                add(&r, &next, cur.pcs[i] + 1, pos + 1, (uint32_t)pos + 1))
                return 1;
        }
        struct rx_list t = cur;
        cur = next;
        next = t;
    }
}
