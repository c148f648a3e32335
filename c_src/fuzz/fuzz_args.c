/*
 * fuzz_args.c - procket_args_parse() on an argv made by splitting the
 * input at NUL bytes (argv[0] included). A request that parses must come
 * back unchanged through procket_args_format() and a second parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procket.h"
#include "../tests/testutil.h"

#define MAXARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy, *argv[MAXARGS + 1], *out[33], strbuf[512 + 108];
    struct procket_args a, b;
    int argc = 0, n;

    if (size > 4096 || (copy = malloc(size + 1)) == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t i = 0; i < size && argc < MAXARGS; i += strlen(copy + i) + 1)
        argv[argc++] = copy + i;
    argv[argc] = NULL;

    if (procket_args_parse(&a, argc, argv, NULL) == 0 && !a.help &&
        !a.version) {
        out[0] = (char *)"procket";
        n = procket_args_format(&a.req, a.path, out + 1, 32, strbuf,
                                sizeof(strbuf));
        if (n < 0 || procket_args_parse(&b, n + 1, out, NULL) != 0 ||
            !request_equal(&a.req, &b.req) || (a.path == NULL) != (b.path == NULL) ||
            (a.path != NULL && strcmp(a.path, b.path) != 0))
            abort();
    }
    free(copy);
    return 0;
}
