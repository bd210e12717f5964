/* Deliberately broken packs written against the raw C ABI, for loader tests. One source, one
 * variant per build: RAW_PACK_WRONG_MAJOR (ABI 2.0), RAW_PACK_NULL_TABLE (init returns NULL),
 * RAW_PACK_NO_ENTRY (no entry point at all). */
#include <stddef.h>

#include "cephalgia/plugin/rule_pack_abi.h"

#if !defined(RAW_PACK_NO_ENTRY)
static cephalgia_pack_code Create(const char* c, size_t n, cephalgia_pack_instance** out,
                                  cephalgia_buffer* err) {
  (void)c; (void)n; (void)err;
  *out = (cephalgia_pack_instance*)1;
  return CEPHALGIA_PACK_OK;
}
static cephalgia_pack_code Describe(const cephalgia_pack_instance* i, cephalgia_buffer* out) {
  (void)i; (void)out;
  return CEPHALGIA_PACK_INTERNAL;
}
static cephalgia_pack_code Evaluate(const cephalgia_pack_instance* i, const char* s, const char* r,
                                    size_t rn, const char* o, size_t on, cephalgia_buffer* out) {
  (void)i; (void)s; (void)r; (void)rn; (void)o; (void)on; (void)out;
  return CEPHALGIA_PACK_INTERNAL;
}
static void FreeBuffer(cephalgia_buffer* b) { (void)b; }
static void Destroy(cephalgia_pack_instance* i) { (void)i; }

static const cephalgia_rule_pack_v1 kTable __attribute__((unused)) = {
    sizeof(cephalgia_rule_pack_v1), 2u /* a future major */, 0u, "org.cephalgia.test.future",
    "2.0.0", Create, Describe, Evaluate, FreeBuffer, Destroy};

CEPHALGIA_PACK_EXPORT const cephalgia_rule_pack_v1* cephalgia_rule_pack_init(
    const cephalgia_host_api* host) {
  (void)host;
#if defined(RAW_PACK_NULL_TABLE)
  return NULL;
#else
  return &kTable;
#endif
}
#else
CEPHALGIA_PACK_EXPORT int not_a_rule_pack(void) { return 42; }
#endif
