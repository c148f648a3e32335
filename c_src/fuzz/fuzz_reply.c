/*
 * fuzz_reply.c - procket_reply_decode() on arbitrary bytes. A reply that
 * decodes carries an errno in 0..4095 and re-encodes to the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char buf[PROCKET_REPLY_LEN];
    int error = -1;

    errno = 12345;
    if (procket_reply_decode(&error, data, size) == 0) {
        if (error < 0 || error > 4095 || size != PROCKET_REPLY_LEN)
            abort();
        if (procket_reply_encode(error, buf, sizeof(buf)) != PROCKET_REPLY_LEN ||
            memcmp(buf, data, size) != 0)
            abort();
    }
    if (errno != 12345)
        abort();
    return 0;
}
