/* File: rule_pack_abi.h
 *
 * The binary contract between the Cephalgia host and a rule pack loaded with dlopen().
 * Pure C on purpose: no C++ type, exception or allocator crosses it, so a pack built with another
 * compiler or standard library still loads. JSON crosses instead (descriptor, request, response).
 *
 * A pack exports exactly one symbol, CEPHALGIA_RULE_PACK_ENTRY ("cephalgia_rule_pack_init"),
 * which returns a pointer to a static cephalgia_rule_pack_v1. The struct starts with its own size
 * and ABI major/minor. Rules for growth (after OBS and PostgreSQL):
 *   - fields are append-only; a host reads a field only if offsetof(field)+sizeof(field) is
 *     within struct_size (CEPHALGIA_PACK_HAS_FIELD);
 *   - a different abi_major is refused by the host;
 *   - a newer abi_minor adds fields only.
 *
 * Ownership: a buffer returned by the pack (cephalgia_buffer) is allocated by the pack and must
 * be released with that pack's free_buffer. Strings in the struct itself are static.
 * Threading: evaluate() is called concurrently from many threads on one instance; the instance
 * must be immutable after create() (or synchronise internally).
 * Errors: every call returns a cephalgia_pack_code; on failure the out buffer, if set, holds a
 * JSON object {"message": "...", "location": "..."} describing the problem.
 *
 * ABI 1.1 adds evaluate_parts (appended after destroy): the client's request bytes go to the pack
 * untouched, what the host fetched travels beside them as raw JSON parts, and the host's list of
 * prefetch gaps is the only account of missing data. A host reads evaluate_parts only when the
 * table has it (CEPHALGIA_PACK_HAS_FIELD) and it is not NULL; a 1.0 pack is called through
 * evaluate with the fetched data merged into the request, as before.
 */
#ifndef CEPHALGIA_PLUGIN_RULE_PACK_ABI_H_
#define CEPHALGIA_PLUGIN_RULE_PACK_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CEPHALGIA_RULE_PACK_ABI_MAJOR 1u
#define CEPHALGIA_RULE_PACK_ABI_MINOR 1u
#define CEPHALGIA_RULE_PACK_ENTRY "cephalgia_rule_pack_init"

#if defined(__GNUC__)
#define CEPHALGIA_PACK_EXPORT __attribute__((visibility("default")))
#else
#define CEPHALGIA_PACK_EXPORT
#endif

/* Result codes. Values are fixed forever and match cephalgia::StatusCode. */
typedef enum cephalgia_pack_code {
  CEPHALGIA_PACK_OK = 0,
  CEPHALGIA_PACK_INVALID_ARGUMENT = 1,   /* the request is malformed (HTTP 400) */
  CEPHALGIA_PACK_NOT_FOUND = 2,          /* unknown service id */
  CEPHALGIA_PACK_FAILED_PRECONDITION = 4,/* data the service needs is missing (HTTP 412) */
  CEPHALGIA_PACK_INTERNAL = 10           /* a bug or a broken invariant in the pack */
} cephalgia_pack_code;

/* A byte buffer allocated by the pack; release it with the pack's free_buffer. */
typedef struct cephalgia_buffer {
  char* data;
  size_t size;
} cephalgia_buffer;

/* Opaque per-pack state, created by create() and owned by the pack (a "module pointer"). */
typedef struct cephalgia_pack_instance cephalgia_pack_instance;

/* What the host offers the pack. Also size-versioned. */
typedef struct cephalgia_host_api {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  /* Log a line on the host's log. level: 0 debug, 1 info, 2 warning, 3 error. May be NULL. */
  void (*log)(int level, const char* message, size_t message_len);
} cephalgia_host_api;

/* ABI 1.1: what one part of fetched data is. */
typedef enum cephalgia_part_kind {
  CEPHALGIA_PART_VALUE = 0,     /* the key's value: replaces what the client sent under the key
                                   (its first member of that name), or fills a missing key */
  CEPHALGIA_PART_MORE_PAGES = 1 /* a searchset Bundle of the remaining pages of the Bundle the
                                   client sent under the key: its entries extend that Bundle */
} cephalgia_part_kind;

/* ABI 1.1: one prefetch value the host fetched, raw JSON (a FHIR resource or Bundle). */
typedef struct cephalgia_json_part {
  const char* key;
  size_t key_len;
  const char* json;
  size_t json_len;
  uint32_t kind; /* cephalgia_part_kind */
} cephalgia_json_part;

/* ABI 1.1: what is wrong with one prefetch key. */
typedef enum cephalgia_gap_kind {
  CEPHALGIA_GAP_UNAVAILABLE = 0, /* the data could be neither found in prefetch nor fetched */
  CEPHALGIA_GAP_PARTIAL = 1      /* only part of it could be had (e.g. the first page) */
} cephalgia_gap_kind;

typedef struct cephalgia_prefetch_gap {
  const char* key;
  size_t key_len;
  const char* reason; /* the host's technical reason, for the pack's data-gap record */
  size_t reason_len;
  uint32_t kind; /* cephalgia_gap_kind */
} cephalgia_prefetch_gap;

/* ABI 1.1: the arguments of evaluate_parts. Size-versioned like the table: a pack reads a field
 * only if it lies within struct_size. Strings are pointer and length (not NUL-terminated); all
 * of it is valid for the duration of the call only. */
typedef struct cephalgia_evaluate_args {
  uint32_t struct_size; /* sizeof(cephalgia_evaluate_args) as the host built it */
  const char* service_id;
  size_t service_id_len;
  const char* request_json; /* the CDS Hooks request exactly as the client sent it */
  size_t request_len;
  const char* now; /* RFC 3339 evaluation time chosen by the host */
  size_t now_len;
  const cephalgia_json_part* parts; /* what the host fetched, in the order it was asked for */
  size_t part_count;
  const cephalgia_prefetch_gap* gaps; /* every prefetch key the pack cannot have in full */
  size_t gap_count;
} cephalgia_evaluate_args;

typedef struct cephalgia_rule_pack_v1 {
  uint32_t struct_size; /* sizeof(cephalgia_rule_pack_v1) as the pack was built */
  uint32_t abi_major;
  uint32_t abi_minor;
  const char* pack_id;      /* reverse-DNS, e.g. "org.cephalgia.headache" */
  const char* pack_version; /* semantic version of the pack */

  /* Creates an instance. config_json is a JSON object:
   *   {"packDirectory": "<directory holding the pack file>", "config": {...pack settings...}}
   * On failure *error_out holds {"message","location"} (location e.g. "file.json#/a/0"). */
  cephalgia_pack_code (*create)(const char* config_json, size_t config_len,
                                cephalgia_pack_instance** instance_out,
                                cephalgia_buffer* error_out);

  /* The pack's descriptor as JSON:
   *   {"packId": "...", "packVersion": "...", "knowledgeVersion": "...",
   *    "services": [{"id","hook","title","description","usageRequirements"?,
   *                  "prefetch": {"key": "Template?patient={{context.patientId}}"},
   *                  "requiredPrefetch": ["key", ...]}]}
   * `requiredPrefetch` names the keys without which the service cannot answer (the host returns
   * 412 when it can neither find nor fetch them). */
  cephalgia_pack_code (*describe)(const cephalgia_pack_instance* instance, cephalgia_buffer* out);

  /* Evaluates one CDS Hooks call. request_json is the CDS Hooks request as the host completed it
   * (prefetch filled in where the host could fetch it). options_json is a JSON object:
   *   {"now": "<RFC 3339 date-time>",
   *    "unavailablePrefetch": [{"key": "...", "reason": "..."}],
   *    "partialPrefetch": [{"key": "...", "reason": "..."}]}
   * On success *out holds the CDS Hooks response JSON ({"cards": [...]}). */
  cephalgia_pack_code (*evaluate)(const cephalgia_pack_instance* instance, const char* service_id,
                                  const char* request_json, size_t request_len,
                                  const char* options_json, size_t options_len,
                                  cephalgia_buffer* out);

  /* Releases a buffer this pack returned. Safe on an empty buffer. */
  void (*free_buffer)(cephalgia_buffer* buffer);

  /* Destroys an instance created by create(). */
  void (*destroy)(cephalgia_pack_instance* instance);

  /* ---- ABI 1.1 ---- */

  /* Evaluates one CDS Hooks call: the client's request untouched, the parts the host fetched
   * beside it and the host's gaps (see cephalgia_evaluate_args). Keys the host lists as gaps are
   * the only missing data the pack reports; it does not work them out again. On success *out
   * holds the CDS Hooks response JSON. May be NULL: the host then calls evaluate. */
  cephalgia_pack_code (*evaluate_parts)(const cephalgia_pack_instance* instance,
                                        const cephalgia_evaluate_args* args,
                                        cephalgia_buffer* out);
} cephalgia_rule_pack_v1;

/* True if the struct as built by the pack contains `field` (for fields added in later minors). */
#define CEPHALGIA_PACK_HAS_FIELD(pack, field)                       \
  (offsetof(cephalgia_rule_pack_v1, field) + sizeof(((cephalgia_rule_pack_v1*)0)->field) <= \
   (pack)->struct_size)

/* The one exported entry point of a pack. Returns NULL if the pack cannot work with this host. */
typedef const cephalgia_rule_pack_v1* (*cephalgia_rule_pack_init_fn)(const cephalgia_host_api* host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CEPHALGIA_PLUGIN_RULE_PACK_ABI_H_ */
