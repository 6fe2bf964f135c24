/*
 * fuzz_conf.c — settings from outside text: "name=value" pairs as given on
 * the command line or in the environment.
 */
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[1024];
    if (size >= sizeof buf)
        size = sizeof buf - 1;
    memcpy(buf, data, size);
    buf[size] = '\0';
    bk_conf c;
    bk_conf_defaults(&c);
    bk_err err = {0};
    if (bk_conf_set_pair(&c, buf, &err) != 0 && !err.msg[0])
        __builtin_trap(); /* a refusal always says why */
    return 0;
}
