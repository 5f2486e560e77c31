#include "json_min.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t i;
} parser_t;

static int parse_value(parser_t *p, json_node_t *out, int depth);

static void skip_ws(parser_t *p)
{
    while (p->s[p->i] == ' ' || p->s[p->i] == '\n' || p->s[p->i] == '\r' || p->s[p->i] == '\t') {
        p->i++;
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Appends the UTF-8 encoding of a code point. */
static size_t put_utf8(char *dst, unsigned long cp)
{
    if (cp < 0x80u) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800u) {
        dst[0] = (char)(0xC0u | (cp >> 6));
        dst[1] = (char)(0x80u | (cp & 0x3Fu));
        return 2;
    }
    if (cp < 0x10000u) {
        dst[0] = (char)(0xE0u | (cp >> 12));
        dst[1] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
        dst[2] = (char)(0x80u | (cp & 0x3Fu));
        return 3;
    }
    dst[0] = (char)(0xF0u | (cp >> 18));
    dst[1] = (char)(0x80u | ((cp >> 12) & 0x3Fu));
    dst[2] = (char)(0x80u | ((cp >> 6) & 0x3Fu));
    dst[3] = (char)(0x80u | (cp & 0x3Fu));
    return 4;
}

static int read_hex4(parser_t *p, unsigned long *cp)
{
    *cp = 0;
    for (int k = 0; k < 4; k++) {
        const int d = hex_digit(p->s[p->i]);
        if (d < 0) {
            return -1;
        }
        *cp = (*cp << 4) | (unsigned long)d;
        p->i++;
    }
    return 0;
}

static int parse_string(parser_t *p, char **out)
{
    if (p->s[p->i] != '"') {
        return -1;
    }
    p->i++;
    const size_t start = p->i;
    size_t end = start;
    while (p->s[end] != '"') {
        if (p->s[end] == '\0') {
            return -1;
        }
        end += p->s[end] == '\\' ? 2u : 1u;
    }
    char *buf = malloc(end - start + 1u); /* escapes only shrink */
    if (buf == NULL) {
        return -1;
    }
    size_t n = 0;
    while (p->s[p->i] != '"') {
        char c = p->s[p->i++];
        if (c != '\\') {
            buf[n++] = c;
            continue;
        }
        c = p->s[p->i++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            buf[n++] = c;
            break;
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u': {
            unsigned long cp;
            if (read_hex4(p, &cp) != 0) {
                free(buf);
                return -1;
            }
            if (cp >= 0xD800u && cp < 0xDC00u && p->s[p->i] == '\\' && p->s[p->i + 1u] == 'u') {
                unsigned long lo;
                p->i += 2u;
                if (read_hex4(p, &lo) != 0) {
                    free(buf);
                    return -1;
                }
                cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
            }
            n += put_utf8(&buf[n], cp);
            break;
        }
        default:
            free(buf);
            return -1;
        }
    }
    p->i++;
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int parse_container(parser_t *p, json_node_t *out, int depth, int is_object)
{
    const char close = is_object ? '}' : ']';
    size_t cap = 0;
    out->type = is_object ? JSON_OBJECT : JSON_ARRAY;
    p->i++;
    skip_ws(p);
    if (p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        if (out->count == cap) {
            cap = cap ? cap * 2u : 8u;
            json_node_t *items = realloc(out->items, cap * sizeof(*items));
            if (items == NULL) {
                return -1;
            }
            out->items = items;
            if (is_object) {
                char **keys = realloc(out->keys, cap * sizeof(*keys));
                if (keys == NULL) {
                    return -1;
                }
                out->keys = keys;
            }
        }
        skip_ws(p);
        if (is_object) {
            if (parse_string(p, &out->keys[out->count]) != 0) {
                return -1;
            }
            skip_ws(p);
            if (p->s[p->i] != ':') {
                free(out->keys[out->count]);
                return -1;
            }
            p->i++;
        }
        memset(&out->items[out->count], 0, sizeof(json_node_t));
        if (parse_value(p, &out->items[out->count], depth + 1) != 0) {
            json_free(&out->items[out->count]);
            if (is_object) {
                free(out->keys[out->count]);
            }
            return -1;
        }
        out->count++;
        skip_ws(p);
        if (p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return -1;
    }
}

static int parse_value(parser_t *p, json_node_t *out, int depth)
{
    if (depth > 32) {
        return -1;
    }
    skip_ws(p);
    const char c = p->s[p->i];
    if (c == '{' || c == '[') {
        return parse_container(p, out, depth, c == '{');
    }
    if (c == '"') {
        out->type = JSON_STRING;
        return parse_string(p, &out->string);
    }
    if (strncmp(&p->s[p->i], "null", 4) == 0) {
        out->type = JSON_NULL;
        p->i += 4u;
        return 0;
    }
    if (strncmp(&p->s[p->i], "true", 4) == 0 || strncmp(&p->s[p->i], "false", 5) == 0) {
        out->type = JSON_BOOL;
        out->boolean = c == 't';
        p->i += out->boolean ? 4u : 5u;
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char *end = NULL;
        out->type = JSON_NUMBER;
        out->number = strtod(&p->s[p->i], &end);
        if (end == &p->s[p->i]) {
            return -1;
        }
        p->i = (size_t)(end - p->s);
        return 0;
    }
    return -1;
}

int json_parse(const char *text, json_node_t *root, size_t *error_offset)
{
    parser_t p = {text, 0};
    memset(root, 0, sizeof(*root));
    if (parse_value(&p, root, 0) == 0) {
        skip_ws(&p);
        if (text[p.i] == '\0') {
            return 0;
        }
    }
    json_free(root);
    if (error_offset != NULL) {
        *error_offset = p.i;
    }
    return -1;
}

int json_parse_file(const char *path, json_node_t *root)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1u << 16;
    size_t n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(&buf[n], 1, cap - n - 1u, f);
        if (n < cap - 1u) {
            break;
        }
        cap *= 2u;
        char *bigger = realloc(buf, cap);
        if (bigger == NULL) {
            free(buf);
        }
        buf = bigger;
    }
    fclose(f);
    if (buf == NULL) {
        return -1;
    }
    buf[n] = '\0';
    size_t err = 0;
    const int rc = json_parse(buf, root, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: JSON syntax error at byte %zu\n", path, err);
    }
    free(buf);
    return rc;
}

void json_free(json_node_t *node)
{
    if (node == NULL) {
        return;
    }
    for (size_t i = 0; i < node->count; i++) {
        json_free(&node->items[i]);
        if (node->keys != NULL) {
            free(node->keys[i]);
        }
    }
    free(node->items);
    free(node->keys);
    free(node->string);
    memset(node, 0, sizeof(*node));
}

const json_node_t *json_get(const json_node_t *object, const char *key)
{
    if (object == NULL || object->type != JSON_OBJECT) {
        return NULL;
    }
    for (size_t i = 0; i < object->count; i++) {
        if (strcmp(object->keys[i], key) == 0) {
            return &object->items[i];
        }
    }
    return NULL;
}
