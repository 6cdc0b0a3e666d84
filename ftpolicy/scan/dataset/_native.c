/*
 * ftpolicy.scan.dataset._native: the per-token hot loops of the dataset scan, in C.
 *
 * Each function computes exactly what a pure-Python function of the scanner computes
 * (same tokens, same hashes, same order); the Python side checks this at import on a set
 * of sample texts and falls back to the pure-Python code when the module is missing or
 * disagrees, so results never depend on whether the extension was built.
 *
 *   feature_hashes(text, limit, max_n, nfkc) -> bytes | None
 *       trigger._feature_hashes without the hidden-character path: the 1..max_n-gram
 *       feature hashes of a prompt, as native-endian signed 64-bit integers. Tokens are
 *       \w+(?:[-.'/:]\w+)* (Python's Unicode \w: str.isalnum() or "_"), lower-cased
 *       (ASCII) or NFKC-normalised then lower-cased (through the `nfkc` callable, so
 *       the result is Python's own); a token id is the CRC-32 of its UTF-8 bytes; an
 *       n-gram (n >= 2) is hash() of the tuple of its token ids (CPython's tuple hash of
 *       small non-negative integers). None when the text holds an invisible format
 *       character (the Python path reports those as features of their own).
 *
 *   union_features(chunks) -> bytes
 *       sorted(set(...)) of the int64 values in a list of such byte strings: the distinct
 *       features of a record with several prompt fields.
 *
 *   alnum_words(text) -> list[str]
 *       contamination.normalise after its NFKC/lower-casing step: the runs of characters
 *       that are str.isalnum(); runs of ASCII characters are lower-cased, others are
 *       returned as they are (callers lower-case non-ASCII text first). For ASCII text
 *       this is all of normalise.
 *
 *   contamination_screen(...) -> capsule; contamination_quiet(capsule, text_or_words) -> bool
 *       the holdout index in C tables; True when ContaminationDetector._match could not
 *       report anything for the field (necessary conditions only: the exact match runs
 *       on the rest).
 *
 *   int_set(values) -> capsule; int_set_select(capsule, values, positions) -> bytes
 *       the members of an int64 set among a buffer of int64s (or their indexes), in order:
 *       set.intersection and array.index over a spilled frame of trigger features.
 *
 *   prompt_features(fields, memo, limit, max_n, nfkc, fallback) -> tuple
 *       the per-record part of trigger.TriggerDetector.observe that needs no labeller
 *       (memoised prompt features, their union, prompt texts, response texts).
 *
 *   observe_quiet(records, start, grams, labels, quiet, ...) -> (next, done, stopped)
 *       TriggerDetector.observe, spill included, for consecutive records whose responses
 *       are all labelled not permissive (most records); the caller takes the others.
 *
 *   memo_quiet(batch, start, seen, loud, none, chars, ...) -> (next, records, chars)
 *       the record detectors' field memo (engine._FieldMemo.scan_batch) for the records
 *       with nothing to report (remembered fields without findings, quiet new fields).
 *
 *   chat_fields(obj, TextField) -> list[TextField] | None
 *       readers.record_fields for a plain chat record (messages of role + content);
 *       None for any other shape, which the Python reader handles.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
#include <stdint.h>
#include <string.h>

static PyObject *str_rejected; /* "rejected", set at import */

/* -- CRC-32 (IEEE 802.3, reflected, as zlib.crc32) ------------------------------------ */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_bytes(const unsigned char *p, Py_ssize_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* -- CPython's tuple hash (xxHash-based, 3.8+) of non-negative integers < 2**61 - 1,
 *    whose own hash is the value. Checked against hash() at import on the Python side. */

#if SIZEOF_PY_UHASH_T > 4
#define XXPRIME_1 ((Py_uhash_t)11400714785074694791ULL)
#define XXPRIME_2 ((Py_uhash_t)14029467366897019727ULL)
#define XXPRIME_5 ((Py_uhash_t)2870177450012600261ULL)
#define XXROTATE(x) ((x << 31) | (x >> 33))
#else
#define XXPRIME_1 ((Py_uhash_t)2654435761UL)
#define XXPRIME_2 ((Py_uhash_t)2246822519UL)
#define XXPRIME_5 ((Py_uhash_t)374761393UL)
#define XXROTATE(x) ((x << 13) | (x >> 19))
#endif

static int64_t tuple_hash(const uint32_t *ids, Py_ssize_t n) {
    Py_uhash_t acc = XXPRIME_5;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_uhash_t lane = (Py_uhash_t)ids[i];
        acc += lane * XXPRIME_2;
        acc = XXROTATE(acc);
        acc *= XXPRIME_1;
    }
    acc += (Py_uhash_t)n ^ (XXPRIME_5 ^ 3527539UL);
    if (acc == (Py_uhash_t)-1)
        return 1546275796;
    return (int64_t)(Py_hash_t)acc;
}

/* -- characters ------------------------------------------------------------------------ */

/* an ASCII letter or digit */
static inline int ascii_alnum(Py_UCS4 ch) {
    return ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9');
}

/* ch with ASCII capitals lower-cased */
static inline Py_UCS4 ascii_lower(Py_UCS4 ch) { return (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch; }

/* Python's \w: str.isalnum() or "_" */
static inline int is_word(Py_UCS4 ch) {
    if (ch < 128)
        return ascii_alnum(ch) || ch == '_';
    return Py_UNICODE_ISALNUM(ch);
}

static inline int is_joiner(Py_UCS4 ch) {
    return ch == '-' || ch == '.' || ch == '\'' || ch == '/' || ch == ':';
}

/* trigger._HIDDEN_CLASS */
static inline int is_hidden(Py_UCS4 ch) {
    return ch == 0x00AD || ch == 0x180E || (ch >= 0x200B && ch <= 0x200F) ||
           (ch >= 0x202A && ch <= 0x202E) || (ch >= 0x2060 && ch <= 0x2064) ||
           (ch >= 0x2066 && ch <= 0x2069) || ch == 0xFEFF || (ch >= 0xE0000 && ch <= 0xE007F);
}

/* -- growable buffers ------------------------------------------------------------------- */

typedef struct {
    uint32_t *v;
    Py_ssize_t n, cap;
} idvec;

static int idvec_push(idvec *a, uint32_t x) {
    if (a->n == a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 64;
        uint32_t *v = PyMem_Realloc(a->v, (size_t)cap * sizeof(uint32_t));
        if (!v) {
            PyErr_NoMemory();
            return -1;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

/* The id of the token text[start:end] (code points); ASCII tokens are lower-cased here,
 * others go through nfkc(token).lower() in Python. */
static int token_id(PyObject *text, int kind, const void *data, Py_ssize_t start, Py_ssize_t end,
                    PyObject *nfkc, uint32_t *out) {
    int ascii = 1;
    for (Py_ssize_t i = start; i < end; i++) {
        if (PyUnicode_READ(kind, data, i) >= 128) {
            ascii = 0;
            break;
        }
    }
    if (ascii) {
        unsigned char small[256];
        unsigned char *buf = small;
        Py_ssize_t n = end - start;
        if (n > (Py_ssize_t)sizeof(small)) {
            buf = PyMem_Malloc((size_t)n);
            if (!buf) {
                PyErr_NoMemory();
                return -1;
            }
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, start + i);
            buf[i] = (unsigned char)ascii_lower(ch);
        }
        *out = crc32_bytes(buf, n);
        if (buf != small)
            PyMem_Free(buf);
        return 0;
    }
    PyObject *tok = PyUnicode_Substring(text, start, end);
    if (!tok)
        return -1;
    PyObject *norm = PyObject_CallOneArg(nfkc, tok);
    Py_DECREF(tok);
    if (!norm)
        return -1;
    PyObject *low = PyObject_CallMethod(norm, "lower", NULL);
    Py_DECREF(norm);
    if (!low)
        return -1;
    PyObject *raw = PyUnicode_AsEncodedString(low, "utf-8", "surrogatepass");
    Py_DECREF(low);
    if (!raw)
        return -1;
    *out = crc32_bytes((const unsigned char *)PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    Py_DECREF(raw);
    return 0;
}

static PyObject *feature_hashes(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text, *nfkc;
    Py_ssize_t limit, max_n;
    if (!PyArg_ParseTuple(args, "UnnO:feature_hashes", &text, &limit, &max_n, &nfkc))
        return NULL;
    if (limit < 0 || max_n < 1)
        Py_RETURN_NONE; /* Python slices with a negative limit: leave it to the Python code */
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    if (kind != PyUnicode_1BYTE_KIND || PyUnicode_MAX_CHAR_VALUE(text) > 0x7F) {
        for (Py_ssize_t i = 0; i < len; i++) {
            if (is_hidden(PyUnicode_READ(kind, data, i)))
                Py_RETURN_NONE;
        }
    }
    idvec ids = {0};
    Py_ssize_t i = 0;
    while (i < len && ids.n < limit) {
        if (!is_word(PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < len && is_word(PyUnicode_READ(kind, data, i)))
            i++;
        /* (?:[-.'/:]\w+)* */
        while (i + 1 < len && is_joiner(PyUnicode_READ(kind, data, i)) &&
               is_word(PyUnicode_READ(kind, data, i + 1))) {
            i++;
            while (i < len && is_word(PyUnicode_READ(kind, data, i)))
                i++;
        }
        uint32_t id;
        if (token_id(text, kind, data, start, i, nfkc, &id) < 0 || idvec_push(&ids, id) < 0) {
            PyMem_Free(ids.v);
            return NULL;
        }
    }
    Py_ssize_t n_tok = ids.n;
    Py_ssize_t total = n_tok;
    for (Py_ssize_t n = 2; n <= max_n; n++)
        if (n_tok >= n)
            total += n_tok - n + 1;
    PyObject *out = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(int64_t));
    if (!out) {
        PyMem_Free(ids.v);
        return NULL;
    }
    int64_t *w = (int64_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t k = 0; k < n_tok; k++)
        *w++ = (int64_t)ids.v[k];
    for (Py_ssize_t n = 2; n <= max_n; n++)
        for (Py_ssize_t k = 0; k + n <= n_tok; k++)
            *w++ = tuple_hash(ids.v + k, n);
    PyMem_Free(ids.v);
    return out;
}

/* alnum_words(text) -> list[str]: the maximal runs of characters that are str.isalnum()
 * (Python's \w without "_"), i.e. re.sub(r"[\W_]+", " ", text).split(); runs of ASCII
 * characters lower-cased. */
/* The next maximal run of str.isalnum() characters at or after *i in the text (kind, data,
 * len): 1 with [*start, *i) the run and *ascii whether it is all ASCII; 0 at the end. */
static int next_alnum_run(int kind, const void *data, Py_ssize_t len, Py_ssize_t *i, Py_ssize_t *start,
                          int *ascii) {
    Py_ssize_t at = *i;
    while (at < len) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, at);
        if (ch < 128 ? ascii_alnum(ch) : Py_UNICODE_ISALNUM(ch))
            break;
        at++;
    }
    if (at >= len) {
        *i = at;
        return 0;
    }
    *start = at;
    *ascii = 1;
    while (at < len) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, at);
        if (ch < 128) {
            if (!ascii_alnum(ch))
                break;
        } else if (Py_UNICODE_ISALNUM(ch)) {
            *ascii = 0;
        } else {
            break;
        }
        at++;
    }
    *i = at;
    return 1;
}

static PyObject *alnum_words(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "alnum_words() needs a str");
        return NULL;
    }
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    Py_ssize_t len = PyUnicode_GET_LENGTH(arg);
    int ascii = PyUnicode_IS_ASCII(arg);
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    char small[256];
    Py_ssize_t i = 0, start = 0;
    int run_ascii = 1;
    while (next_alnum_run(kind, data, len, &i, &start, &run_ascii)) {
        Py_ssize_t n = i - start;
        PyObject *word;
        if ((ascii || run_ascii) && n <= (Py_ssize_t)sizeof(small)) {
            for (Py_ssize_t k = 0; k < n; k++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, start + k);
                small[k] = (char)ascii_lower(c);
            }
            word = PyUnicode_DecodeASCII(small, n, NULL);
        } else {
            PyObject *sub = PyUnicode_Substring(arg, start, i);
            word = NULL;
            if (sub) {
                if (run_ascii) {
                    word = PyObject_CallMethod(sub, "lower", NULL);
                    Py_DECREF(sub);
                } else {
                    word = sub; /* the caller lower-cased non-ASCII text already */
                }
            }
        }
        if (!word || PyList_Append(out, word) < 0) {
            Py_XDECREF(word);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(word);
    }
    return out;
}

static int as_double(PyObject *o, double *out) {
    *out = PyFloat_AsDouble(o);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* -- contamination screen ------------------------------------------------------------------
 * A capsule holding the holdout index in C tables (words by 64-bit hash of their UTF-8
 * bytes, n-gram and short-item word-id sequences by hash, postings as item indexes) so that
 * a field can be cleared without creating a Python object: contamination_quiet() is True
 * only when ContaminationDetector._match could not report anything for the field (no
 * indexed n-gram, no short item, no item within reach of the near-duplicate threshold);
 * otherwise the caller runs the exact match. Every test here is a necessary condition of
 * the corresponding Python one (hash equality of the same word-id sequence; the
 * near-duplicate bound with a 1e-6 slack over float summation order). */

typedef struct {
    uint64_t h;
    uint32_t off, len;
    int32_t id;
} wslot;

typedef struct {
    wslot *slots;
    size_t cap; /* power of two */
    char *arena;
    uint8_t *code;
    uint8_t *common;
    uint32_t *short_first; /* bit k: the word starts a short item of the k-th length */
    double *idf;
    int32_t *post_off, *post_len, *post_items;
    Py_ssize_t nwords, nitems;
    double *total, *cw, min_c;
    Py_ssize_t n;
    uint64_t *gset, *sset;
    size_t gcap, scap;
    Py_ssize_t short_len[32];
    int nshort;
    /* scratch */
    uint32_t *stamp, gen;
    uint32_t *istamp, igen;
    double *acc;
    int32_t *touched;
    int32_t *ids;
    Py_ssize_t ids_cap;
} cscreen;

static uint64_t fnv64(const unsigned char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t seq_hash(const int32_t *ids, Py_ssize_t n) {
    uint64_t h = mix64((uint64_t)n + 0x9e3779b97f4a7c15ULL);
    for (Py_ssize_t i = 0; i < n; i++)
        h = mix64(h ^ ((uint64_t)(uint32_t)ids[i] + 0x9e3779b97f4a7c15ULL));
    return h | 1; /* 0 marks an empty slot */
}

static int hset_put(uint64_t *set, size_t cap, uint64_t h) {
    size_t i = (size_t)h & (cap - 1);
    while (set[i] && set[i] != h)
        i = (i + 1) & (cap - 1);
    set[i] = h;
    return 0;
}

static int hset_has(const uint64_t *set, size_t cap, uint64_t h) {
    if (!cap)
        return 0;
    size_t i = (size_t)h & (cap - 1);
    while (set[i]) {
        if (set[i] == h)
            return 1;
        i = (i + 1) & (cap - 1);
    }
    return 0;
}

static int32_t word_id(const cscreen *c, const unsigned char *p, Py_ssize_t n) {
    uint64_t h = fnv64(p, n);
    size_t i = (size_t)h & (c->cap - 1);
    while (c->slots[i].id >= 0) {
        const wslot *s = &c->slots[i];
        if (s->h == h && (Py_ssize_t)s->len == n && memcmp(c->arena + s->off, p, (size_t)n) == 0)
            return s->id;
        i = (i + 1) & (c->cap - 1);
    }
    return -1;
}

static void cscreen_free(cscreen *c) {
    if (!c)
        return;
    PyMem_Free(c->slots);
    PyMem_Free(c->arena);
    PyMem_Free(c->code);
    PyMem_Free(c->common);
    PyMem_Free(c->short_first);
    PyMem_Free(c->idf);
    PyMem_Free(c->post_off);
    PyMem_Free(c->post_len);
    PyMem_Free(c->post_items);
    PyMem_Free(c->total);
    PyMem_Free(c->cw);
    PyMem_Free(c->gset);
    PyMem_Free(c->sset);
    PyMem_Free(c->stamp);
    PyMem_Free(c->istamp);
    PyMem_Free(c->acc);
    PyMem_Free(c->touched);
    PyMem_Free(c->ids);
    PyMem_Free(c);
}

static void capsule_free(PyObject *cap) {
    cscreen_free((cscreen *)PyCapsule_GetPointer(cap, "ftpolicy.contamination_screen"));
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

/* a list of tuples of word ids -> a hash set of their sequence hashes */
static int build_seq_set(PyObject *seqs, uint64_t **set, size_t *cap, Py_ssize_t *lens, int *nlens,
                         int record_lengths) {
    Py_ssize_t m = PyList_GET_SIZE(seqs);
    *cap = m ? pow2_at_least((size_t)m * 2) : 0;
    *set = PyMem_Calloc(*cap ? *cap : 1, sizeof(uint64_t));
    if (!*set)
        return -1;
    int32_t buf[64];
    for (Py_ssize_t k = 0; k < m; k++) {
        PyObject *t = PyList_GET_ITEM(seqs, k);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) > 64 || PyTuple_GET_SIZE(t) < 1) {
            PyErr_SetString(PyExc_ValueError, "contamination_screen: sequences are tuples of 1..64 ids");
            return -1;
        }
        Py_ssize_t n = PyTuple_GET_SIZE(t);
        for (Py_ssize_t j = 0; j < n; j++) {
            long v = PyLong_AsLong(PyTuple_GET_ITEM(t, j));
            if (v == -1 && PyErr_Occurred())
                return -1;
            buf[j] = (int32_t)v;
        }
        hset_put(*set, *cap, seq_hash(buf, n));
        if (record_lengths) {
            int seen = 0;
            for (int q = 0; q < *nlens; q++)
                seen |= lens[q] == n;
            if (!seen) {
                if (*nlens >= 32) {
                    PyErr_SetString(PyExc_ValueError, "contamination_screen: more than 32 short lengths");
                    return -1;
                }
                lens[(*nlens)++] = n;
            }
        }
    }
    return 0;
}

/* contamination_screen(words, codes, common, idf, postings, total, cw, n, grams, shorts,
 *                      min_containment) -> capsule */
static PyObject *contamination_screen(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *words, *idf, *postings, *total, *cw, *grams, *shorts;
    const char *codes, *common;
    Py_ssize_t ncodes, ncommon, n;
    double min_c;
    if (!PyArg_ParseTuple(args, "O!y#y#O!O!O!O!nO!O!d:contamination_screen", &PyList_Type, &words,
                          &codes, &ncodes, &common, &ncommon, &PyList_Type, &idf, &PyList_Type,
                          &postings, &PyList_Type, &total, &PyList_Type, &cw, &n, &PyList_Type, &grams,
                          &PyList_Type, &shorts, &min_c))
        return NULL;
    Py_ssize_t nw = PyList_GET_SIZE(words), ni = PyList_GET_SIZE(total);
    if (ncodes != nw || ncommon != nw || PyList_GET_SIZE(idf) != nw || PyList_GET_SIZE(postings) != nw ||
        PyList_GET_SIZE(cw) != ni) {
        PyErr_SetString(PyExc_ValueError, "contamination_screen: inconsistent table sizes");
        return NULL;
    }
    cscreen *c = PyMem_Calloc(1, sizeof(cscreen));
    if (!c)
        return PyErr_NoMemory();
    c->nwords = nw;
    c->nitems = ni;
    c->n = n;
    c->min_c = min_c;
    c->cap = pow2_at_least((size_t)nw * 2 + 2);
    c->slots = PyMem_Malloc(c->cap * sizeof(wslot));
    c->code = PyMem_Malloc((size_t)nw + 1);
    c->common = PyMem_Malloc((size_t)nw + 1);
    c->short_first = PyMem_Calloc((size_t)nw + 1, sizeof(uint32_t));
    c->idf = PyMem_Malloc(((size_t)nw + 1) * sizeof(double));
    c->post_off = PyMem_Malloc(((size_t)nw + 1) * sizeof(int32_t));
    c->post_len = PyMem_Malloc(((size_t)nw + 1) * sizeof(int32_t));
    c->total = PyMem_Malloc(((size_t)ni + 1) * sizeof(double));
    c->cw = PyMem_Malloc(((size_t)ni + 1) * sizeof(double));
    c->stamp = PyMem_Calloc((size_t)nw + 1, sizeof(uint32_t));
    c->istamp = PyMem_Calloc((size_t)ni + 1, sizeof(uint32_t));
    c->acc = PyMem_Calloc((size_t)ni + 1, sizeof(double));
    c->touched = PyMem_Malloc(((size_t)ni + 1) * sizeof(int32_t));
    if (!c->slots || !c->code || !c->common || !c->short_first || !c->idf || !c->post_off || !c->post_len ||
        !c->total || !c->cw || !c->stamp || !c->istamp || !c->acc || !c->touched) {
        cscreen_free(c);
        return PyErr_NoMemory();
    }
    for (size_t i = 0; i < c->cap; i++)
        c->slots[i].id = -1;
    memcpy(c->code, codes, (size_t)nw);
    memcpy(c->common, common, (size_t)nw);
    /* the words */
    size_t arena_len = 0;
    for (Py_ssize_t i = 0; i < nw; i++) {
        Py_ssize_t len;
        if (!PyUnicode_Check(PyList_GET_ITEM(words, i)) ||
            !PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(words, i), &len)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "contamination_screen: words are str");
            cscreen_free(c);
            return NULL;
        }
        arena_len += (size_t)len;
    }
    c->arena = PyMem_Malloc(arena_len + 1);
    if (!c->arena) {
        cscreen_free(c);
        return PyErr_NoMemory();
    }
    size_t at = 0;
    Py_ssize_t total_posts = 0;
    for (Py_ssize_t i = 0; i < nw; i++) {
        Py_ssize_t len;
        const char *u = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(words, i), &len);
        memcpy(c->arena + at, u, (size_t)len);
        uint64_t h = fnv64((const unsigned char *)u, len);
        size_t j = (size_t)h & (c->cap - 1);
        while (c->slots[j].id >= 0)
            j = (j + 1) & (c->cap - 1);
        c->slots[j].h = h;
        c->slots[j].off = (uint32_t)at;
        c->slots[j].len = (uint32_t)len;
        c->slots[j].id = (int32_t)i;
        at += (size_t)len;
        if (as_double(PyList_GET_ITEM(idf, i), &c->idf[i]) < 0) {
            cscreen_free(c);
            return NULL;
        }
        PyObject *pl = PyList_GET_ITEM(postings, i);
        if (!PyList_Check(pl)) {
            PyErr_SetString(PyExc_TypeError, "contamination_screen: postings are lists");
            cscreen_free(c);
            return NULL;
        }
        c->post_off[i] = (int32_t)total_posts;
        c->post_len[i] = (int32_t)PyList_GET_SIZE(pl);
        total_posts += PyList_GET_SIZE(pl);
    }
    c->post_items = PyMem_Malloc(((size_t)total_posts + 1) * sizeof(int32_t));
    if (!c->post_items) {
        cscreen_free(c);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < nw; i++) {
        PyObject *pl = PyList_GET_ITEM(postings, i);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(pl); j++) {
            long v = PyLong_AsLong(PyList_GET_ITEM(pl, j));
            if ((v == -1 && PyErr_Occurred()) || v < 0 || v >= ni) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "contamination_screen: item index out of range");
                cscreen_free(c);
                return NULL;
            }
            c->post_items[c->post_off[i] + j] = (int32_t)v;
        }
    }
    for (Py_ssize_t i = 0; i < ni; i++) {
        if (as_double(PyList_GET_ITEM(total, i), &c->total[i]) < 0 ||
            as_double(PyList_GET_ITEM(cw, i), &c->cw[i]) < 0) {
            cscreen_free(c);
            return NULL;
        }
    }
    Py_ssize_t unused[32];
    int nunused = 0;
    if (build_seq_set(grams, &c->gset, &c->gcap, unused, &nunused, 0) < 0 ||
        build_seq_set(shorts, &c->sset, &c->scap, c->short_len, &c->nshort, 1) < 0) {
        cscreen_free(c);
        return NULL;
    }
    /* first words of the short items, per length */
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(shorts); k++) {
        PyObject *t = PyList_GET_ITEM(shorts, k);
        Py_ssize_t len = PyTuple_GET_SIZE(t);
        long first = PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
        if (first < 0 || first >= nw) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "contamination_screen: word id out of range");
            cscreen_free(c);
            return NULL;
        }
        for (int q = 0; q < c->nshort; q++)
            if (c->short_len[q] == len)
                c->short_first[first] |= 1u << q;
    }
    PyObject *cap = PyCapsule_New(c, "ftpolicy.contamination_screen", capsule_free);
    if (!cap)
        cscreen_free(c);
    return cap;
}

static int ids_reserve(cscreen *c, Py_ssize_t n) {
    if (n <= c->ids_cap)
        return 0;
    Py_ssize_t cap = c->ids_cap ? c->ids_cap : 256;
    while (cap < n)
        cap *= 2;
    int32_t *v = PyMem_Realloc(c->ids, (size_t)cap * sizeof(int32_t));
    if (!v) {
        PyErr_NoMemory();
        return -1;
    }
    c->ids = v;
    c->ids_cap = cap;
    return 0;
}

/* 1 when the word ids may hold something to report, else 0 */
static int cscreen_maybe(cscreen *c, const int32_t *ids, Py_ssize_t nw) {
    /* n-grams: a window of n holdout words that starts an indexed n-gram */
    if (c->gcap && nw >= c->n) {
        Py_ssize_t run = 0;
        for (Py_ssize_t i = nw - 1; i >= 0; i--) {
            run = (ids[i] >= 0 && c->code[ids[i]]) ? run + 1 : 0;
            if (run >= c->n && c->code[ids[i]] == 2 && hset_has(c->gset, c->gcap, seq_hash(ids + i, c->n)))
                return 1;
        }
    }
    /* short items: a sequence of holdout words equal to an item's */
    if (c->scap) {
        Py_ssize_t run = 0;
        for (Py_ssize_t i = nw - 1; i >= 0; i--) {
            run = (ids[i] >= 0 && c->code[ids[i]]) ? run + 1 : 0;
            if (!run || !c->short_first[ids[i]])
                continue;
            for (int q = 0; q < c->nshort; q++) {
                Py_ssize_t len = c->short_len[q];
                if ((c->short_first[ids[i]] >> q & 1) && run >= len &&
                    hset_has(c->sset, c->scap, seq_hash(ids + i, len)))
                    return 1;
            }
        }
    }
    /* near-duplicates: an item the field's posting words bring within reach of the threshold */
    if (++c->gen == 0) {
        memset(c->stamp, 0, (size_t)c->nwords * sizeof(uint32_t));
        c->gen = 1;
    }
    if (++c->igen == 0) {
        memset(c->istamp, 0, (size_t)c->nitems * sizeof(uint32_t));
        c->igen = 1;
    }
    double field_common = 0.0;
    Py_ssize_t ntouched = 0;
    for (Py_ssize_t i = 0; i < nw; i++) {
        int32_t w = ids[i];
        if (w < 0 || c->stamp[w] == c->gen)
            continue;
        c->stamp[w] = c->gen;
        if (c->common[w])
            field_common += c->idf[w];
        for (int32_t k = 0; k < c->post_len[w]; k++) {
            int32_t item = c->post_items[c->post_off[w] + k];
            if (c->istamp[item] != c->igen) {
                c->istamp[item] = c->igen;
                c->acc[item] = 0.0;
                c->touched[ntouched++] = item;
            }
            c->acc[item] += c->idf[w];
        }
    }
    for (Py_ssize_t k = 0; k < ntouched; k++) {
        int32_t item = c->touched[k];
        double least = field_common < c->cw[item] ? field_common : c->cw[item];
        if (c->acc[item] + least + 1e-6 >= c->min_c * c->total[item])
            return 1;
    }
    return 0;
}

/* contamination_quiet(capsule, text_or_words) -> bool: True when the field cannot match
 * (see above). text: ASCII text, or other text NFKC-normalised and lower-cased, tokenised
 * here exactly as normalise() does; words: the normalise() result for any text. */
static PyObject *contamination_quiet(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *arg;
    if (!PyArg_ParseTuple(args, "OO:contamination_quiet", &cap, &arg))
        return NULL;
    cscreen *c = PyCapsule_GetPointer(cap, "ftpolicy.contamination_screen");
    if (!c)
        return NULL;
    Py_ssize_t nw = 0;
    if (PyUnicode_Check(arg) && !PyUnicode_IS_ASCII(arg)) {
        /* text already NFKC-normalised and lower-cased by the caller: its alnum_words, each
         * looked up by its UTF-8 bytes (ASCII letters lower-cased, as alnum_words does) */
        int kind = PyUnicode_KIND(arg);
        const void *data = PyUnicode_DATA(arg);
        Py_ssize_t len = PyUnicode_GET_LENGTH(arg), i = 0;
        if (ids_reserve(c, len / 2 + 1) < 0)
            return NULL;
        unsigned char small[1024];
        Py_ssize_t start = 0;
        int run_ascii;
        while (next_alnum_run(kind, data, len, &i, &start, &run_ascii)) {
            unsigned char *buf = small;
            Py_ssize_t cap = (Py_ssize_t)sizeof(small), n = 0;
            if (4 * (i - start) > cap) {
                cap = 4 * (i - start);
                buf = PyMem_Malloc((size_t)cap);
                if (!buf)
                    return PyErr_NoMemory();
            }
            for (Py_ssize_t k = start; k < i; k++) {
                Py_UCS4 u = PyUnicode_READ(kind, data, k);
                if (u < 0x80) {
                    buf[n++] = (unsigned char)ascii_lower(u);
                } else if (u < 0x800) {
                    buf[n++] = (unsigned char)(0xC0 | (u >> 6));
                    buf[n++] = (unsigned char)(0x80 | (u & 0x3F));
                } else if (u < 0x10000) {
                    buf[n++] = (unsigned char)(0xE0 | (u >> 12));
                    buf[n++] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                    buf[n++] = (unsigned char)(0x80 | (u & 0x3F));
                } else {
                    buf[n++] = (unsigned char)(0xF0 | (u >> 18));
                    buf[n++] = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
                    buf[n++] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                    buf[n++] = (unsigned char)(0x80 | (u & 0x3F));
                }
            }
            c->ids[nw++] = word_id(c, buf, n);
            if (buf != small)
                PyMem_Free(buf);
        }
    } else if (PyUnicode_Check(arg)) {
        const unsigned char *s = PyUnicode_1BYTE_DATA(arg);
        Py_ssize_t len = PyUnicode_GET_LENGTH(arg), i = 0;
        if (ids_reserve(c, len / 2 + 1) < 0)
            return NULL;
        unsigned char small[256];
        while (i < len) {
            unsigned char ch = s[i];
            if (!ascii_alnum(ch)) {
                i++;
                continue;
            }
            Py_ssize_t start = i;
            while (i < len) {
                ch = s[i];
                if (!ascii_alnum(ch))
                    break;
                i++;
            }
            Py_ssize_t n = i - start;
            int32_t id = -1;
            if (n <= (Py_ssize_t)sizeof(small)) { /* longer words are not holdout words */
                for (Py_ssize_t k = 0; k < n; k++) {
                    unsigned char x = s[start + k];
                    small[k] = (unsigned char)ascii_lower(x);
                }
                id = word_id(c, small, n);
            } else {
                PyObject *sub = PyUnicode_Substring(arg, start, i), *low = NULL;
                if (sub)
                    low = PyObject_CallMethod(sub, "lower", NULL);
                Py_XDECREF(sub);
                if (!low)
                    return NULL;
                id = word_id(c, PyUnicode_1BYTE_DATA(low), n);
                Py_DECREF(low);
            }
            c->ids[nw++] = id;
        }
    } else if (PyList_Check(arg)) {
        Py_ssize_t m = PyList_GET_SIZE(arg);
        if (ids_reserve(c, m + 1) < 0)
            return NULL;
        for (Py_ssize_t k = 0; k < m; k++) {
            Py_ssize_t len;
            const char *u = PyUnicode_Check(PyList_GET_ITEM(arg, k))
                                ? PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(arg, k), &len)
                                : NULL;
            if (!u) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "contamination_quiet(): words are str");
                return NULL;
            }
            c->ids[nw++] = word_id(c, (const unsigned char *)u, len);
        }
    } else {
        PyErr_SetString(PyExc_TypeError, "contamination_quiet() needs text or a list of words");
        return NULL;
    }
    return PyBool_FromLong(!cscreen_maybe(c, c->ids, nw));
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ascending sort: insertion sort for short runs, an inlined quicksort above, qsort as the
 * guard against deep recursion */
static void sort_i64_depth(int64_t *v, Py_ssize_t n, int depth) {
    while (n > 24) {
        if (depth-- == 0) {
            qsort(v, (size_t)n, sizeof(int64_t), cmp_i64);
            return;
        }
        int64_t a = v[0], b = v[n / 2], c = v[n - 1];
        int64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        Py_ssize_t i = 0, j = n - 1;
        for (;;) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i >= j)
                break;
            int64_t t = v[i];
            v[i] = v[j];
            v[j] = t;
            i++;
            j--;
        }
        /* v[0..j] <= pivot <= v[j+1..n-1]; recurse into the smaller side */
        Py_ssize_t left = j + 1;
        if (left < n - left) {
            sort_i64_depth(v, left, depth);
            v += left;
            n -= left;
        } else {
            sort_i64_depth(v + left, n - left, depth);
            n = left;
        }
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        int64_t x = v[i];
        Py_ssize_t j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static void sort_i64(int64_t *v, Py_ssize_t n) { sort_i64_depth(v, n, 64); }

/* union_features(chunks) -> bytes: the sorted distinct int64 values of byte strings of
 * native-endian int64s (sorted(set(...)) in Python). */
static PyObject *union_features(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *seq = PySequence_Fast(arg, "union_features() needs a sequence of bytes");
    if (!seq)
        return NULL;
    Py_ssize_t parts = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < parts; i++) {
        if (!PyBytes_Check(items[i]) || PyBytes_GET_SIZE(items[i]) % 8) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "union_features() needs bytes of int64 values");
            return NULL;
        }
        total += PyBytes_GET_SIZE(items[i]) / 8;
    }
    int64_t *buf = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(int64_t));
    if (!buf) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < parts; i++) {
        Py_ssize_t n = PyBytes_GET_SIZE(items[i]);
        memcpy(buf + at, PyBytes_AS_STRING(items[i]), (size_t)n);
        at += n / 8;
    }
    Py_DECREF(seq);
    sort_i64(buf, total);
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < total; i++)
        if (m == 0 || buf[m - 1] != buf[i])
            buf[m++] = buf[i];
    PyObject *out = PyBytes_FromStringAndSize((const char *)buf, m * (Py_ssize_t)sizeof(int64_t));
    PyMem_Free(buf);
    return out;
}

/* 1 when the n int64 values at v are strictly increasing */
static int strictly_increasing(const int64_t *v, Py_ssize_t n) {
    for (Py_ssize_t i = 1; i < n; i++)
        if (v[i - 1] >= v[i])
            return 0;
    return 1;
}

/* sorted_unique(raw): raw (bytes of int64 values) sorted and without repeats, as a new
 * reference (raw itself when it already is) */
static PyObject *sorted_unique(PyObject *raw) {
    Py_ssize_t n = PyBytes_GET_SIZE(raw) / 8;
    if (strictly_increasing((const int64_t *)PyBytes_AS_STRING(raw), n)) {
        Py_INCREF(raw);
        return raw;
    }
    PyObject *one = PyTuple_Pack(1, raw);
    if (!one)
        return NULL;
    PyObject *out = union_features(NULL, one);
    Py_DECREF(one);
    return out;
}

/* the sorted distinct values of x and y (each sorted without repeats) into out; returns
 * their number */
static Py_ssize_t merge_unique(const int64_t *x, Py_ssize_t nx, const int64_t *y, Py_ssize_t ny, int64_t *out) {
    Py_ssize_t i = 0, j = 0, m = 0;
    while (i < nx && j < ny) {
        if (x[i] < y[j])
            out[m++] = x[i++];
        else if (y[j] < x[i])
            out[m++] = y[j++];
        else {
            out[m++] = x[i++];
            j++;
        }
    }
    while (i < nx)
        out[m++] = x[i++];
    while (j < ny)
        out[m++] = y[j++];
    return m;
}

/* union_sorted(chunks): union_features for chunks that are each sorted without repeats
 * (as prompt_features keeps them): one chunk is the answer, more are merged one by one;
 * union_features sorts when a chunk is not sorted after all. */
static PyObject *union_sorted(PyObject *chunks) {
    Py_ssize_t parts = PyList_GET_SIZE(chunks), total = 0;
    for (Py_ssize_t k = 0; k < parts; k++) {
        PyObject *c = PyList_GET_ITEM(chunks, k);
        if (!PyBytes_Check(c) || PyBytes_GET_SIZE(c) % 8 ||
            !strictly_increasing((const int64_t *)PyBytes_AS_STRING(c), PyBytes_GET_SIZE(c) / 8))
            return union_features(NULL, chunks);
        total += PyBytes_GET_SIZE(c) / 8;
    }
    if (parts == 1) {
        PyObject *only = PyList_GET_ITEM(chunks, 0);
        Py_INCREF(only);
        return only;
    }
    int64_t *acc = PyMem_Malloc((size_t)(total + 1) * sizeof(int64_t));
    int64_t *tmp = PyMem_Malloc((size_t)(total + 1) * sizeof(int64_t));
    if (!acc || !tmp) {
        PyMem_Free(acc);
        PyMem_Free(tmp);
        return PyErr_NoMemory();
    }
    Py_ssize_t m = 0;
    for (Py_ssize_t k = 0; k < parts; k++) {
        PyObject *c = PyList_GET_ITEM(chunks, k);
        m = merge_unique(acc, m, (const int64_t *)PyBytes_AS_STRING(c), PyBytes_GET_SIZE(c) / 8, tmp);
        int64_t *swap = acc;
        acc = tmp;
        tmp = swap;
    }
    PyObject *out = PyBytes_FromStringAndSize((const char *)acc, m * (Py_ssize_t)sizeof(int64_t));
    PyMem_Free(acc);
    PyMem_Free(tmp);
    return out;
}

/* -- int64 sets ------------------------------------------------------------------------------
 * int_set(values) -> capsule: an open-addressing hash set of int64 values (bytes of
 * native-endian int64s); int_set_select(capsule, values, positions) -> bytes: the values
 * of the second buffer that are members, in order and with repeats (or, with positions
 * true, their indexes): set.intersection / array.index over a spilled frame without a
 * Python int per element. */

typedef struct {
    int64_t *keys;
    uint8_t *used;
    size_t cap;
    uint64_t *bloom; /* one bit per value of the low ISET_BLOOM_BITS bits of a member */
} iset;

/* The features are hashes already: their low bits index a bitmap that rules out most
 * non-members before the hash table is probed (32 KiB: stays in the L1/L2 cache). */
#define ISET_BLOOM_BITS 18
#define ISET_BLOOM_MASK ((1u << ISET_BLOOM_BITS) - 1)
static inline int iset_maybe(const iset *s, uint64_t v) {
    uint32_t b = (uint32_t)v & ISET_BLOOM_MASK;
    return (int)((s->bloom[b >> 6] >> (b & 63)) & 1);
}

static void iset_free(PyObject *cap) {
    iset *s = PyCapsule_GetPointer(cap, "ftpolicy.int_set");
    if (s) {
        PyMem_Free(s->keys);
        PyMem_Free(s->used);
        PyMem_Free(s->bloom);
        PyMem_Free(s);
    }
}

static inline size_t iset_slot(uint64_t v, size_t cap) { return (size_t)mix64(v) & (cap - 1); }

static PyObject *int_set(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len % 8) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "int_set() needs int64 values");
        return NULL;
    }
    Py_ssize_t n = view.len / 8;
    iset *s = PyMem_Calloc(1, sizeof(iset));
    if (!s) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    s->cap = pow2_at_least((size_t)n * 2 + 2);
    s->keys = PyMem_Malloc(s->cap * sizeof(int64_t));
    s->used = PyMem_Calloc(s->cap, 1);
    s->bloom = PyMem_Calloc(((size_t)1 << ISET_BLOOM_BITS) / 64, sizeof(uint64_t));
    if (!s->keys || !s->used || !s->bloom) {
        PyMem_Free(s->keys);
        PyMem_Free(s->used);
        PyMem_Free(s->bloom);
        PyMem_Free(s);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    const int64_t *v = view.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t x;
        memcpy(&x, v + i, 8);
        uint32_t b = (uint32_t)(uint64_t)x & ISET_BLOOM_MASK;
        s->bloom[b >> 6] |= (uint64_t)1 << (b & 63);
        size_t j = iset_slot((uint64_t)x, s->cap);
        while (s->used[j] && s->keys[j] != x)
            j = (j + 1) & (s->cap - 1);
        s->used[j] = 1;
        s->keys[j] = x;
    }
    PyBuffer_Release(&view);
    PyObject *cap = PyCapsule_New(s, "ftpolicy.int_set", iset_free);
    if (!cap) {
        PyMem_Free(s->keys);
        PyMem_Free(s->used);
        PyMem_Free(s->bloom);
        PyMem_Free(s);
    }
    return cap;
}

static PyObject *int_set_select(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *buf;
    int positions;
    if (!PyArg_ParseTuple(args, "OOp:int_set_select", &cap, &buf, &positions))
        return NULL;
    iset *s = PyCapsule_GetPointer(cap, "ftpolicy.int_set");
    if (!s)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len % 8) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "int_set_select() needs int64 values");
        return NULL;
    }
    Py_ssize_t n = view.len / 8, m = 0;
    int64_t *out = PyMem_Malloc(((size_t)n + 1) * sizeof(int64_t));
    if (!out) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    const int64_t *v = view.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t x;
        memcpy(&x, v + i, 8);
        if (!iset_maybe(s, (uint64_t)x))
            continue;
        size_t j = iset_slot((uint64_t)x, s->cap);
        while (s->used[j]) {
            if (s->keys[j] == x) {
                out[m++] = positions ? (int64_t)i : x;
                break;
            }
            j = (j + 1) & (s->cap - 1);
        }
    }
    PyBuffer_Release(&view);
    PyObject *res = PyBytes_FromStringAndSize((const char *)out, m * 8);
    PyMem_Free(out);
    return res;
}

/* -- trigger observe -------------------------------------------------------------------------
 * prompt_features(fields, memo, limit, max_n, nfkc, fallback)
 *     -> (features, texts, responses, fresh)
 * The per-record part of TriggerDetector.observe that needs no labeller: over the record's
 * text fields (path, role, text), the prompt features (memo[text], or computed here, or by
 * fallback(text) for texts the C tokenizer leaves to Python) united into sorted distinct
 * int64 bytes; the (path, text) of each prompt with features; the response texts to label
 * (not "rejected..."); and the (text, features) computed now, for the caller's memo (sorted
 * and without repeats, so that a record's union is a merge; memo values are trusted to be
 * so, and sorted again when they are not). */

/* The fields tuple of a Record (file, line, fields, key), borrowed; NULL (no error set)
 * for anything else, e.g. the malformed-line findings a batch also holds. */
static PyObject *record_fields_of(PyObject *item) {
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4 || !PyTuple_Check(PyTuple_GET_ITEM(item, 2)))
        return NULL;
    return PyTuple_GET_ITEM(item, 2);
}

/* Whether field f (path, role, text) holds a response the trigger labels: role "response",
 * a path not starting "rejected", text not empty. 1 yes, 0 no (also for a field that is not
 * (str, str, str)), -1 on error. */
static int labelled_response(PyObject *f) {
    if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 3)
        return 0;
    PyObject *path = PyTuple_GET_ITEM(f, 0), *role = PyTuple_GET_ITEM(f, 1), *text = PyTuple_GET_ITEM(f, 2);
    if (!PyUnicode_Check(text) || !PyUnicode_Check(role) || !PyUnicode_Check(path))
        return 0;
    if (PyUnicode_GET_LENGTH(text) == 0 || PyUnicode_CompareWithASCIIString(role, "response") != 0)
        return 0;
    Py_ssize_t starts = PyUnicode_Tailmatch(path, str_rejected, 0, PY_SSIZE_T_MAX, -1);
    return starts < 0 ? -1 : !starts;
}

/* How a memo of texts (trigger._Memo) keeps its entries: texts up to max_text characters,
 * emptied when it holds max_entries texts or its "chars" attribute is over max_chars. */
typedef struct {
    Py_ssize_t max_text, max_entries, max_chars;
} memo_limits;

/* trigger._Memo.put(text, value), without its return value */
static int memo_put(PyObject *memo, PyObject *text, PyObject *value, const memo_limits *lim) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    if (len > lim->max_text)
        return 0;
    PyObject *c = PyObject_GetAttrString(memo, "chars");
    if (!c)
        return -1;
    Py_ssize_t chars = PyLong_AsSsize_t(c);
    Py_DECREF(c);
    if (chars == -1 && PyErr_Occurred())
        return -1;
    if (PyDict_GET_SIZE(memo) >= lim->max_entries || chars > lim->max_chars) {
        PyDict_Clear(memo);
        chars = 0;
    }
    if (PyDict_SetItem(memo, text, value) < 0)
        return -1;
    PyObject *now = PyLong_FromSsize_t(chars + len);
    if (!now)
        return -1;
    int rc = PyObject_SetAttrString(memo, "chars", now);
    Py_DECREF(now);
    return rc;
}

/* The prompt features of a record's fields (see prompt_features); with put != NULL the
 * features computed here go into memo at once instead of into fresh, and responses may be
 * NULL. Returns the united features (new reference) or NULL. */
static PyObject *fields_features(PyObject *fields, PyObject *memo, Py_ssize_t limit, Py_ssize_t max_n,
                                 PyObject *nfkc, PyObject *fallback, PyObject *texts, PyObject *responses,
                                 PyObject *fresh, const memo_limits *put) {
    Py_ssize_t nf = PyTuple_GET_SIZE(fields);
    PyObject *chunks = PyList_New(0), *result = NULL;
    if (!chunks)
        return NULL;
    for (Py_ssize_t i = 0; i < nf; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 3) {
            PyErr_SetString(PyExc_TypeError, "prompt_features(): fields are (path, role, text)");
            goto done;
        }
        PyObject *path = PyTuple_GET_ITEM(f, 0), *role = PyTuple_GET_ITEM(f, 1), *text = PyTuple_GET_ITEM(f, 2);
        if (!PyUnicode_Check(text) || !PyUnicode_Check(role) || !PyUnicode_Check(path)) {
            PyErr_SetString(PyExc_TypeError, "prompt_features(): fields are (path, role, text)");
            goto done;
        }
        if (PyUnicode_GET_LENGTH(text) == 0)
            continue;
        if (PyUnicode_CompareWithASCIIString(role, "prompt") == 0) {
            PyObject *raw = PyDict_GetItemWithError(memo, text);
            if (raw) {
                Py_INCREF(raw);
            } else {
                if (PyErr_Occurred())
                    goto done;
                PyObject *a = Py_BuildValue("(OnnO)", text, limit, max_n, nfkc);
                raw = a ? feature_hashes(NULL, a) : NULL;
                Py_XDECREF(a);
                if (!raw)
                    goto done;
                if (raw == Py_None) {
                    Py_DECREF(raw);
                    raw = PyObject_CallOneArg(fallback, text);
                    if (!raw)
                        goto done;
                }
                if (!PyBytes_Check(raw)) {
                    Py_DECREF(raw);
                    PyErr_SetString(PyExc_TypeError, "prompt_features(): features must be bytes");
                    goto done;
                }
                { /* remembered sorted and without repeats: a record's union is then a merge */
                    PyObject *tidy = sorted_unique(raw);
                    Py_DECREF(raw);
                    raw = tidy;
                    if (!raw)
                        goto done;
                }
                int bad;
                if (put) {
                    bad = memo_put(memo, text, raw, put) < 0;
                } else {
                    PyObject *pair = PyTuple_Pack(2, text, raw);
                    bad = !pair || PyList_Append(fresh, pair) < 0;
                    Py_XDECREF(pair);
                }
                if (bad) {
                    Py_DECREF(raw);
                    goto done;
                }
            }
            if (PyBytes_GET_SIZE(raw) > 0) {
                PyObject *pair = PyTuple_Pack(2, path, text);
                int bad = !pair || PyList_Append(texts, pair) < 0 || PyList_Append(chunks, raw) < 0;
                Py_XDECREF(pair);
                if (bad) {
                    Py_DECREF(raw);
                    goto done;
                }
            }
            Py_DECREF(raw);
        } else if (responses) {
            int wanted = labelled_response(f);
            if (wanted < 0 || (wanted && PyList_Append(responses, text) < 0))
                goto done;
        }
    }
    result = PyList_GET_SIZE(chunks) == 0 ? PyBytes_FromStringAndSize(NULL, 0) : union_sorted(chunks);
done:
    Py_DECREF(chunks);
    return result;
}

static PyObject *prompt_features(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *fields, *memo, *nfkc, *fallback;
    Py_ssize_t limit, max_n;
    if (!PyArg_ParseTuple(args, "O!O!nnOO:prompt_features", &PyTuple_Type, &fields, &PyDict_Type, &memo,
                          &limit, &max_n, &nfkc, &fallback))
        return NULL;
    PyObject *texts = PyList_New(0), *responses = PyList_New(0), *fresh = PyList_New(0), *result = NULL;
    if (texts && responses && fresh) {
        PyObject *feats = fields_features(fields, memo, limit, max_n, nfkc, fallback, texts, responses, fresh, NULL);
        if (feats) {
            result = PyTuple_Pack(4, feats, texts, responses, fresh);
            Py_DECREF(feats);
        }
    }
    Py_XDECREF(texts);
    Py_XDECREF(responses);
    Py_XDECREF(fresh);
    return result;
}

/* 1 when every response text of fields (role "response", path not "rejected...", not
 * empty) has quiet (the not-permissive label) in labels; 0 when one has not; -1 on error */
static int responses_quiet(PyObject *fields, PyObject *labels, PyObject *quiet) {
    Py_ssize_t nf = PyTuple_GET_SIZE(fields);
    for (Py_ssize_t i = 0; i < nf; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 3 || !PyUnicode_Check(PyTuple_GET_ITEM(f, 0)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(f, 1)) || !PyUnicode_Check(PyTuple_GET_ITEM(f, 2)))
            return 0; /* the Python path reports the problem */
        int wanted = labelled_response(f);
        if (wanted <= 0) {
            if (wanted < 0)
                return -1;
            continue;
        }
        PyObject *lab = PyDict_GetItemWithError(labels, PyTuple_GET_ITEM(f, 2));
        if (!lab)
            return PyErr_Occurred() ? -1 : 0;
        if (lab != quiet)
            return 0;
    }
    return 1;
}

/* unlabelled(records, labels, max_text) -> list[str]: the response texts of the records
 * (role "response", path not "rejected...", 1..max_text characters) not in labels, each
 * once, in order */
static PyObject *unlabelled(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *records, *labels;
    Py_ssize_t max_text;
    if (!PyArg_ParseTuple(args, "O!O!n:unlabelled", &PyList_Type, &records, &PyDict_Type, &labels, &max_text))
        return NULL;
    PyObject *out = PyList_New(0), *seen = PySet_New(NULL);
    if (!out || !seen)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {
        PyObject *fields = record_fields_of(PyList_GET_ITEM(records, i));
        if (!fields)
            continue; /* observed in Python */
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(fields); j++) {
            PyObject *f = PyTuple_GET_ITEM(fields, j);
            int wanted = labelled_response(f);
            if (wanted < 0)
                goto fail;
            if (!wanted || PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(f, 2)) > max_text)
                continue;
            PyObject *text = PyTuple_GET_ITEM(f, 2);
            int known = PyDict_Contains(labels, text);
            if (known < 0)
                goto fail;
            if (known)
                continue;
            int dup = PySet_Contains(seen, text);
            if (dup < 0 || (!dup && (PySet_Add(seen, text) < 0 || PyList_Append(out, text) < 0)))
                goto fail;
        }
    }
    Py_DECREF(seen);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(seen);
    return NULL;
}

/* observe_quiet(records, start, grams, labels, quiet, limit, max_n, nfkc, fallback, feats,
 *               offsets, flags, meta, batch, limits) -> (next, done, stopped)
 * TriggerDetector.observe for records[start:], as long as a record's responses are all
 * labelled not permissive (quiet, found in labels): its prompt features (memo grams,
 * computed ones put there at once) are appended to the spill buffers (feats, offsets,
 * flags, meta) exactly as _spill_record appends them. Stops before the first record it
 * cannot take (stopped = 1: the caller observes it in Python) or once meta holds batch
 * rows (stopped = 0: the caller writes the batch); done counts the records taken. */
static PyObject *observe_quiet(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *records, *grams, *labels, *quiet, *nfkc, *fallback, *feats, *offsets, *flags, *meta;
    Py_ssize_t start, limit, max_n, batch;
    memo_limits lim;
    if (!PyArg_ParseTuple(args, "O!nO!O!OnnOOOOO!O!n(nnn):observe_quiet", &PyList_Type, &records, &start,
                          &PyDict_Type, &grams, &PyDict_Type, &labels, &quiet, &limit, &max_n, &nfkc, &fallback,
                          &feats, &offsets, &PyByteArray_Type, &flags, &PyList_Type, &meta, &batch,
                          &lim.max_text, &lim.max_entries, &lim.max_chars))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(records), i = start, done = 0;
    int stopped = 0;
    PyObject *empty = PyTuple_New(0);
    PyObject *extend = PyObject_GetAttrString(feats, "frombytes");
    PyObject *append = PyObject_GetAttrString(offsets, "append");
    if (!empty || !extend || !append)
        goto fail;
    for (; i < n; i++) {
        if (PyList_GET_SIZE(meta) >= batch)
            break;
        PyObject *rec = PyList_GET_ITEM(records, i), *fields = record_fields_of(rec);
        if (!fields) {
            stopped = 1;
            break;
        }
        int ok = responses_quiet(fields, labels, quiet);
        if (ok < 0)
            goto fail;
        if (!ok) {
            stopped = 1;
            break;
        }
        PyObject *texts = PyList_New(0);
        if (!texts)
            goto fail;
        PyObject *raw = fields_features(fields, grams, limit, max_n, nfkc, fallback, texts, NULL, NULL, &lim);
        if (!raw) {
            Py_DECREF(texts);
            goto fail;
        }
        PyObject *packed = PyMarshal_WriteObjectToString(texts, Py_MARSHAL_VERSION);
        Py_DECREF(texts);
        PyObject *row = packed ? PyTuple_Pack(6, PyTuple_GET_ITEM(rec, 0), PyTuple_GET_ITEM(rec, 1),
                                              PyTuple_GET_ITEM(rec, 3), Py_False, empty, packed)
                               : NULL;
        Py_XDECREF(packed);
        int bad = !row || PyList_Append(meta, row) < 0;
        Py_XDECREF(row);
        if (!bad) {
            PyObject *r = PyObject_CallOneArg(extend, raw);
            bad = !r;
            Py_XDECREF(r);
        }
        Py_DECREF(raw);
        if (!bad) {
            Py_ssize_t total = PyObject_Size(feats);
            PyObject *at = total < 0 ? NULL : PyLong_FromSsize_t(total);
            PyObject *r = at ? PyObject_CallOneArg(append, at) : NULL;
            Py_XDECREF(at);
            bad = !r;
            Py_XDECREF(r);
        }
        if (!bad) {
            Py_ssize_t m = PyByteArray_GET_SIZE(flags);
            bad = PyByteArray_Resize(flags, m + 1) < 0;
            if (!bad)
                PyByteArray_AS_STRING(flags)[m] = 0;
        }
        if (bad)
            goto fail;
        done++;
    }
    Py_DECREF(empty);
    Py_DECREF(extend);
    Py_DECREF(append);
    return Py_BuildValue("(nni)", i, done, stopped);
fail:
    Py_XDECREF(empty);
    Py_XDECREF(extend);
    Py_XDECREF(append);
    return NULL;
}

/* -- the record detectors' field memo ------------------------------------------------------
 * memo_quiet(batch, start, seen, loud, none, chars, max_entries, max_chars, max_text)
 *     -> (next, records, chars)
 * engine._FieldMemo.scan_batch for batch[start:], as long as nothing is to be reported: a
 * Record whose fields are each remembered without findings (seen[(file, field)] is an empty
 * list) or new and not in loud (the texts some detector must see) is done here, its new
 * fields remembered with none (as scan_batch remembers them, chars counting their
 * characters). Stops before the first item it cannot take (a malformed finding, a
 * remembered finding, a loud field, a memo that must be emptied first): next is its index
 * (len(batch) when all were taken), records the number taken. */
static PyObject *memo_quiet(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *batch, *seen, *loud, *none;
    Py_ssize_t start, chars, max_entries, max_chars, max_text;
    if (!PyArg_ParseTuple(args, "O!nO!O!O!nnnn:memo_quiet", &PyList_Type, &batch, &start, &PyDict_Type, &seen,
                          &PySet_Type, &loud, &PyList_Type, &none, &chars, &max_entries, &max_chars, &max_text))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(batch), i = start, records = 0;
    PyObject *small[16];
    for (; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(batch, i), *fields = record_fields_of(item);
        if (!fields)
            break; /* a malformed-line finding */
        PyObject *file = PyTuple_GET_ITEM(item, 0);
        Py_ssize_t nf = PyTuple_GET_SIZE(fields), ntodo = 0;
        PyObject **todo = nf <= 16 ? small : PyMem_Malloc((size_t)nf * sizeof(PyObject *));
        if (!todo)
            return PyErr_NoMemory();
        int take = 1, failed = 0;
        for (Py_ssize_t k = 0; k < nf && take; k++) {
            PyObject *f = PyTuple_GET_ITEM(fields, k);
            if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 3 || !PyUnicode_Check(PyTuple_GET_ITEM(f, 2))) {
                take = 0;
                break;
            }
            PyObject *key = PyTuple_Pack(2, file, f);
            if (!key) {
                failed = 1;
                break;
            }
            PyObject *hit = PyDict_GetItemWithError(seen, key);
            if (hit) {
                Py_DECREF(key);
                if (!PyList_Check(hit) || PyList_GET_SIZE(hit) > 0)
                    take = 0; /* findings to move onto this record: scan_batch does it */
                continue;
            }
            if (PyErr_Occurred()) {
                Py_DECREF(key);
                failed = 1;
                break;
            }
            int in_loud = PySet_Contains(loud, PyTuple_GET_ITEM(f, 2));
            if (in_loud != 0) {
                Py_DECREF(key);
                if (in_loud < 0)
                    failed = 1;
                take = 0;
                break;
            }
            todo[ntodo++] = key;
        }
        if (take && !failed && ntodo &&
            (PyDict_GET_SIZE(seen) + ntodo > max_entries || chars > max_chars))
            take = 0; /* the memo is emptied first: scan_batch does it */
        for (Py_ssize_t k = 0; k < ntodo; k++) {
            PyObject *key = todo[k];
            if (take && !failed) {
                PyObject *text = PyTuple_GET_ITEM(PyTuple_GET_ITEM(key, 1), 2);
                Py_ssize_t len = PyUnicode_GET_LENGTH(text);
                if (len <= max_text) {
                    if (PyDict_SetItem(seen, key, none) < 0)
                        failed = 1;
                    else
                        chars += len;
                }
            }
            Py_DECREF(key);
        }
        if (todo != small)
            PyMem_Free(todo);
        if (failed)
            return NULL;
        if (!take)
            break;
        records++;
    }
    return Py_BuildValue("(nnn)", i, records, chars);
}

/* memo_new(batch, seen) -> list[str]: the texts of the batch's fields that seen does not
 * hold under (file, field), in order (the Records of the batch; other items are skipped) */
static PyObject *memo_new(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *batch, *seen;
    if (!PyArg_ParseTuple(args, "O!O!:memo_new", &PyList_Type, &batch, &PyDict_Type, &seen))
        return NULL;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch); i++) {
        PyObject *item = PyList_GET_ITEM(batch, i), *fields = record_fields_of(item);
        if (!fields)
            continue;
        PyObject *file = PyTuple_GET_ITEM(item, 0);
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(fields); k++) {
            PyObject *f = PyTuple_GET_ITEM(fields, k);
            if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 3)
                continue;
            PyObject *key = PyTuple_Pack(2, file, f);
            if (!key)
                goto fail;
            int known = PyDict_Contains(seen, key);
            Py_DECREF(key);
            if (known < 0 || (!known && PyList_Append(out, PyTuple_GET_ITEM(f, 2)) < 0))
                goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* -- chat records --------------------------------------------------------------------------
 * chat_fields(obj, TextField) -> list[TextField] | None
 * readers.record_fields for the common chat shape only: a dict whose "messages" is a list
 * of dicts, each with a str "role" (ASCII) and a str "content" and no "tool_calls"; None
 * for anything else (the Python reader handles it, with its error messages). */

#define PATH_CACHE 64
static PyObject *path_cache[PATH_CACHE];
static PyObject *str_prompt, *str_response, *str_messages, *str_role, *str_content, *str_tool_calls;

static int role_is_response(PyObject *role) {
    static const char *names[] = {"assistant", "model", "gpt", "bot", "chatbot"};
    Py_ssize_t n = PyUnicode_GET_LENGTH(role);
    const unsigned char *s = PyUnicode_1BYTE_DATA(role);
    if (n > 16)
        return 0;
    char low[17];
    for (Py_ssize_t i = 0; i < n; i++)
        low[i] = (char)ascii_lower(s[i]);
    low[n] = 0;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (strcmp(low, names[k]) == 0)
            return 1;
    return 0;
}

static PyObject *chat_fields(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *obj, *cls;
    if (!PyArg_ParseTuple(args, "OO:chat_fields", &obj, &cls))
        return NULL;
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "chat_fields() needs a tuple subclass");
        return NULL;
    }
    if (!PyDict_CheckExact(obj))
        Py_RETURN_NONE;
    PyObject *msgs = PyDict_GetItemWithError(obj, str_messages);
    if (!msgs) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    if (!PyList_CheckExact(msgs))
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(msgs);
    /* check the shape first: no partial results */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *msg = PyList_GET_ITEM(msgs, i);
        if (!PyDict_CheckExact(msg) || i >= PATH_CACHE)
            Py_RETURN_NONE;
        PyObject *role = PyDict_GetItemWithError(msg, str_role);
        PyObject *content = role ? PyDict_GetItemWithError(msg, str_content) : NULL;
        if (PyErr_Occurred())
            return NULL;
        if (!role || !content || !PyUnicode_CheckExact(role) || !PyUnicode_IS_ASCII(role) ||
            !PyUnicode_CheckExact(content))
            Py_RETURN_NONE;
        int has_calls = PyDict_Contains(msg, str_tool_calls);
        if (has_calls < 0)
            return NULL;
        if (has_calls)
            Py_RETURN_NONE;
    }
    PyObject *out = PyList_New(n);
    if (!out)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *msg = PyList_GET_ITEM(msgs, i);
        PyObject *role = PyDict_GetItem(msg, str_role);
        PyObject *content = PyDict_GetItem(msg, str_content);
        if (!path_cache[i]) {
            path_cache[i] = PyUnicode_FromFormat("messages[%zd].content", i);
            if (!path_cache[i]) {
                Py_DECREF(out);
                return NULL;
            }
        }
        PyObject *side = role_is_response(role) ? str_response : str_prompt;
        PyObject *items = PyTuple_Pack(3, path_cache[i], side, content);
        PyObject *targs = items ? PyTuple_Pack(1, items) : NULL;
        Py_XDECREF(items);
        PyObject *field = targs ? PyTuple_Type.tp_new((PyTypeObject *)cls, targs, NULL) : NULL;
        Py_XDECREF(targs);
        if (!field) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, field);
    }
    return out;
}

/* chat_record(raw, loads, TextField, Record, display, line) -> Record | None
 * readers.parse_line for a plain chat line: loads(raw) (orjson.loads), chat_fields, the
 * record's "id" as parse_line reads it, and the Record built as tuple.__new__ builds it.
 * None for anything else (NUL bytes, a line that does not load, another shape): the caller
 * goes through parse_line, with its error messages. */
static PyObject *chat_record(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *raw, *loads, *field_cls, *record_cls, *display, *line;
    if (!PyArg_ParseTuple(args, "O!OOOOO:chat_record", &PyBytes_Type, &raw, &loads, &field_cls, &record_cls,
                          &display, &line))
        return NULL;
    if (!PyType_Check(record_cls) || !PyType_IsSubtype((PyTypeObject *)record_cls, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "chat_record() needs a tuple subclass");
        return NULL;
    }
    if (memchr(PyBytes_AS_STRING(raw), 0, (size_t)PyBytes_GET_SIZE(raw)))
        Py_RETURN_NONE;
    PyObject *obj = PyObject_CallOneArg(loads, raw);
    if (!obj) {
        PyErr_Clear(); /* parse_line reports it */
        Py_RETURN_NONE;
    }
    PyObject *result = NULL, *fields = NULL, *key = Py_None;
    Py_INCREF(key);
    if (!PyDict_CheckExact(obj)) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    {
        PyObject *a = PyTuple_Pack(2, obj, field_cls);
        PyObject *list = a ? chat_fields(NULL, a) : NULL;
        Py_XDECREF(a);
        if (!list)
            goto done;
        if (list == Py_None) {
            result = list;
            goto done;
        }
        fields = PyList_AsTuple(list);
        Py_DECREF(list);
        if (!fields)
            goto done;
    }
    {
        PyObject *id = PyDict_GetItemString(obj, "id"); /* borrowed */
        if (id && (PyUnicode_Check(id) || (PyLong_Check(id) && !PyBool_Check(id)))) {
            PyObject *text = PyObject_Str(id);
            if (!text)
                goto done;
            Py_SETREF(key, text);
        }
    }
    {
        PyObject *items = PyTuple_Pack(4, display, line, fields, key);
        PyObject *one = items ? PyTuple_Pack(1, items) : NULL;
        Py_XDECREF(items);
        if (one) {
            result = PyTuple_Type.tp_new((PyTypeObject *)record_cls, one, NULL);
            Py_DECREF(one);
        }
    }
done:
    Py_DECREF(obj);
    Py_XDECREF(fields);
    Py_DECREF(key);
    return result;
}

static PyMethodDef methods[] = {
    {"prompt_features", prompt_features, METH_VARARGS,
     "prompt_features(fields, memo, limit, max_n, nfkc, fallback) -> (features, texts, responses, "
     "fresh): the labeller-free part of TriggerDetector.observe for one record."},
    {"unlabelled", unlabelled, METH_VARARGS,
     "unlabelled(records, labels, max_text) -> list[str]: response texts not in labels, once each."},
    {"observe_quiet", observe_quiet, METH_VARARGS,
     "observe_quiet(records, start, grams, labels, quiet, limit, max_n, nfkc, fallback, feats, offsets, "
     "flags, meta, batch, limits) -> (next, done, stopped): TriggerDetector.observe for the records "
     "whose responses are all labelled not permissive."},
    {"memo_new", memo_new, METH_VARARGS,
     "memo_new(batch, seen) -> list[str]: the texts of the batch's fields not remembered."},
    {"memo_quiet", memo_quiet, METH_VARARGS,
     "memo_quiet(batch, start, seen, loud, none, chars, max_entries, max_chars, max_text) -> (next, "
     "records, chars): _FieldMemo.scan_batch for the records with nothing to report."},
    {"chat_record", chat_record, METH_VARARGS,
     "chat_record(raw, loads, TextField, Record, display, line) -> Record | None: parse_line for a "
     "plain chat line."},
    {"chat_fields", chat_fields, METH_VARARGS,
     "chat_fields(obj, TextField) -> list | None: the text fields of a plain chat record."},
    {"int_set", int_set, METH_O, "int_set(values) -> capsule: a hash set of int64 values."},
    {"int_set_select", int_set_select, METH_VARARGS,
     "int_set_select(set, values, positions) -> bytes: the members among values (or their "
     "indexes), in order."},
    {"contamination_screen", contamination_screen, METH_VARARGS,
     "contamination_screen(words, codes, common, idf, postings, total, cw, n, grams, shorts, "
     "min_containment) -> capsule: the holdout index in C tables."},
    {"contamination_quiet", contamination_quiet, METH_VARARGS,
     "contamination_quiet(screen, ascii_text_or_words) -> bool: True when the field cannot "
     "match any holdout item."},
    {"union_features", union_features, METH_O,
     "union_features(chunks) -> bytes: sorted distinct int64 values of the byte strings."},
    {"feature_hashes", feature_hashes, METH_VARARGS,
     "feature_hashes(text, limit, max_n, nfkc) -> bytes | None: n-gram feature hashes of a "
     "prompt (int64, native order); None when the text holds invisible format characters."},
    {"alnum_words", alnum_words, METH_O,
     "alnum_words(text) -> list[str]: runs of str.isalnum() characters (ASCII runs lower-cased)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "Hot loops of the ftpolicy dataset scan (see the source).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    crc_init();
    str_prompt = PyUnicode_InternFromString("prompt");
    str_response = PyUnicode_InternFromString("response");
    str_messages = PyUnicode_InternFromString("messages");
    str_role = PyUnicode_InternFromString("role");
    str_content = PyUnicode_InternFromString("content");
    str_tool_calls = PyUnicode_InternFromString("tool_calls");
    str_rejected = PyUnicode_InternFromString("rejected");
    if (!str_prompt || !str_response || !str_messages || !str_role || !str_content || !str_tool_calls ||
        !str_rejected)
        return NULL;
    return PyModule_Create(&module);
}
