/* A small JSON reader for the golden-vector files (test code only): the whole document becomes a
 * tree of nodes; objects keep key order. Enough for protocol.md 5's flat format. */
#ifndef JSON_MIN_H
#define JSON_MIN_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type_t;

typedef struct json_node {
    json_type_t type;
    double number;
    int boolean;
    char *string;             /* JSON_STRING: NUL-terminated, escapes resolved */
    size_t count;             /* JSON_ARRAY / JSON_OBJECT: number of items */
    struct json_node *items;  /* array elements or object values */
    char **keys;              /* JSON_OBJECT: keys, parallel to items */
} json_node_t;

/* Parse text; returns 0 and fills *root, or -1 with *error_offset at the offending byte. */
int json_parse(const char *text, json_node_t *root, size_t *error_offset);

/* Read and parse a file; returns 0 or -1 (message on stderr). */
int json_parse_file(const char *path, json_node_t *root);

void json_free(json_node_t *node);

/* Object member by key, or NULL. */
const json_node_t *json_get(const json_node_t *object, const char *key);

#endif
