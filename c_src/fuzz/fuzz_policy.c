/*
 * fuzz_policy.c - policy_parse() on any text. It must never crash; a text
 * that parses must grant only known kinds, to at most one rule a line,
 * and whatever it grants must be what policy_allows() says.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the helper's stderr, not wanted here */
void say(const char *where, const char *fmt, ...)
{
    (void)where;
    (void)fmt;
}

/* names: "alice" is 1000, "staff" 50; nothing else resolves */
static int resolve(int who, const char *name, uint32_t *id)
{
    if (who == POLICY_WHO_UID && strcmp(name, "alice") == 0)
        *id = 1000;
    else if (who == POLICY_WHO_GID && strcmp(name, "staff") == 0)
        *id = 50;
    else
        return -1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct policy pol;
    const unsigned all = POLICY_PACKET | POLICY_RAW | POLICY_TUN | POLICY_TAP |
                         POLICY_NAMESPACE;
    int bad = -1;
    size_t lines = 1;

    if (size > POLICY_FILE_MAX)
        return 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (policy_parse(&pol, (const char *)data, size, resolve, &bad) == 0) {
        struct identity who;
        unsigned granted = 0;

        if (bad != 0 || pol.n > lines || pol.n > POLICY_MAX_RULES)
            abort();
        memset(&who, 0, sizeof(who));
        who.uid = 1000;
        who.gid = 50;
        who.groups = who.few;
        for (size_t i = 0; i < pol.n; i++) {
            if (pol.rules[i].kinds == 0 || (pol.rules[i].kinds & ~all) != 0)
                abort();
            if (pol.rules[i].who == POLICY_WHO_ALL ||
                (pol.rules[i].who == POLICY_WHO_UID && pol.rules[i].id == 1000) ||
                (pol.rules[i].who == POLICY_WHO_GID && pol.rules[i].id == 50))
                granted |= pol.rules[i].kinds;
        }
        for (unsigned bit = 1; bit <= POLICY_NAMESPACE; bit <<= 1)
            if (policy_allows(&pol, &who, bit) != ((granted & bit) != 0))
                abort();
    } else if (bad < 1 || pol.n != 0) {
        abort();
    }
    return 0;
}
