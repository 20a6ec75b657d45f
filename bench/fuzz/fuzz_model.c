/*
 * fuzz_model.c — libFuzzer target over the model blob validator
 * (src/kernel/model_validate.c): any input must give a verdict, never a
 * crash, leak, hang or out-of-bounds read (built with ASan).
 */
#include <stddef.h>
#include <stdint.h>

#include "model_validate.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FsModelError err;

	(void) fs_model_validate(data, size, &err);
	return 0;
}
