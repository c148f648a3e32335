/*
 * fuzz_request.c - procket_request_decode() on arbitrary bytes. Whatever
 * decodes must survive encode -> decode -> encode unchanged; the encoding
 * is canonical (fixed field order, default fields left out), so it is
 * never longer than the input. errno must not move.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procket.h"
#include "../tests/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct procket_request req, again;
    unsigned char buf[PROCKET_MSG_MAX], buf2[PROCKET_MSG_MAX];
    ssize_t n, n2;

    errno = 12345;
    if (procket_request_decode(&req, data, size) == 0) {
        n = procket_request_encode(&req, buf, sizeof(buf));
        if (n < 0 || (size_t)n > size)
            abort();
        if (procket_request_decode(&again, buf, (size_t)n) != 0 ||
            !request_equal(&req, &again))
            abort();
        n2 = procket_request_encode(&again, buf2, sizeof(buf2));
        if (n2 != n || memcmp(buf, buf2, (size_t)n) != 0)
            abort();
    }
    if (errno != 12345)
        abort();
    return 0;
}
