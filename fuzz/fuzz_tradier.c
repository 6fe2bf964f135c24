/*
 * fuzz_tradier.c — fuzz target for the Tradier timesales/history parser
 * (src/prov/prov_tradier.c, bk_tradier_parse).
 *
 * The input is a response body to the requests of prov_fuzz_window (see
 * prov_fuzz.h for the requests and what must hold of the result).
 */
#include "prov_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return prov_fuzz_window(bk_tradier_parse, data, size);
}
