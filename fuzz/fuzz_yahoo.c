/*
 * fuzz_yahoo.c — fuzz target for the Yahoo chart parser (src/prov/prov_yahoo.c, bk_yahoo_parse).
 *
 * The input is a response body to the requests of prov_fuzz_window (see
 * prov_fuzz.h for the requests and what must hold of the result).
 */
#include "prov_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return prov_fuzz_window(bk_yahoo_parse, data, size);
}
