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
 *   word_codes(words, code) -> bytes
 *       bytes(map(code.get, words, repeat(0))): the contamination word mask.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

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

static inline int is_word(Py_UCS4 ch) {
    if (ch < 128)
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_';
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
            buf[i] = (unsigned char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
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
    Py_ssize_t i = 0;
    while (i < len) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (!(ch < 128 ? ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9')
                       : Py_UNICODE_ISALNUM(ch))) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        int run_ascii = 1;
        while (i < len) {
            ch = PyUnicode_READ(kind, data, i);
            if (ch < 128) {
                if (!(((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9')))
                    break;
            } else if (Py_UNICODE_ISALNUM(ch)) {
                run_ascii = 0;
            } else {
                break;
            }
            i++;
        }
        Py_ssize_t n = i - start;
        PyObject *word;
        if ((ascii || run_ascii) && n <= (Py_ssize_t)sizeof(small)) {
            for (Py_ssize_t k = 0; k < n; k++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, start + k);
                small[k] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
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

/* word_codes(words, code) -> bytes: code.get(word, 0) for each word, one byte each. */
static PyObject *word_codes(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *words, *code;
    if (!PyArg_ParseTuple(args, "O!O!:word_codes", &PyList_Type, &words, &PyDict_Type, &code))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(words);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out)
        return NULL;
    unsigned char *w = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyDict_GetItemWithError(code, PyList_GET_ITEM(words, i));
        if (!v) {
            if (PyErr_Occurred()) {
                Py_DECREF(out);
                return NULL;
            }
            w[i] = 0;
            continue;
        }
        long c = PyLong_AsLong(v);
        if (c == -1 && PyErr_Occurred()) {
            Py_DECREF(out);
            return NULL;
        }
        w[i] = (unsigned char)c;
    }
    return out;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

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
    qsort(buf, (size_t)total, sizeof(int64_t), cmp_i64);
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < total; i++)
        if (m == 0 || buf[m - 1] != buf[i])
            buf[m++] = buf[i];
    PyObject *out = PyBytes_FromStringAndSize((const char *)buf, m * (Py_ssize_t)sizeof(int64_t));
    PyMem_Free(buf);
    return out;
}

static PyMethodDef methods[] = {
    {"union_features", union_features, METH_O,
     "union_features(chunks) -> bytes: sorted distinct int64 values of the byte strings."},
    {"feature_hashes", feature_hashes, METH_VARARGS,
     "feature_hashes(text, limit, max_n, nfkc) -> bytes | None: n-gram feature hashes of a "
     "prompt (int64, native order); None when the text holds invisible format characters."},
    {"alnum_words", alnum_words, METH_O,
     "alnum_words(text) -> list[str]: runs of str.isalnum() characters (ASCII runs lower-cased)."},
    {"word_codes", word_codes, METH_VARARGS,
     "word_codes(words, code) -> bytes: code.get(word, 0) per word (values 0..255)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "Hot loops of the ftpolicy dataset scan (see the source).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    crc_init();
    return PyModule_Create(&module);
}
