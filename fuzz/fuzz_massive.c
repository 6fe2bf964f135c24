/*
 * fuzz_massive.c — fuzz target for the Massive aggregates parser (src/prov/prov_massive.c,
 * bk_massive_parse).
 *
 * The input is a response body to the requests of prov_fuzz_cursor (see
 * prov_fuzz.h for the requests and what must hold of the result).
 */
#include "prov_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return prov_fuzz_cursor(bk_massive_parse, data, size);
}
