/* The learned matcher's scoring kernel: the logits of a message and of its sentences.
 *
 * `LinearModel.score_message` (bot/matching/model.py) calls it; its docstring says what is
 * computed. In numpy the same sums took some 40 calls of 1-3 microseconds each per message
 * (a hash per character n-gram, two gathers, two products, the norms) and a Python string per
 * word and per pair; here it is one pass over the text:
 *   - the words (scikit-learn's token, `\w\w+`) are hashed as they are read and looked up in
 *     a table of the vocabulary's words; a pair of words by the two words' ids;
 *   - the character 3- to 5-grams are hashed into buckets (the polynomial of
 *     `features.char_buckets`, whose constants are passed in);
 *   - each occurrence's row of idf-weighted class weights is added to the sums of the sentence
 *     it lies in, or the message's if none; the message's sums are then those plus the
 *     sentences'.
 * Sums are kept in double precision, as in the training matrix.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define N_MIN 3 /* character n-grams: 3 to 5 characters */
#define N_MAX 5
#define LANES 8 /* the rows' width is a multiple of this: the sums vectorise */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* A word of the vocabulary: its characters are chars[start:start + length]; column 0 when
 * only a pair holds it. Its id is its index + 1. */
typedef struct {
    uint64_t hash;
    Py_ssize_t start;
    Py_ssize_t length;
    int32_t column;
} Word;

typedef struct {
    uint64_t key; /* first word's id << 32 | second word's id; 0: an empty slot */
    int32_t column;
} Pair;

typedef struct {
    PyObject_HEAD
    Word *words;
    Py_ssize_t n_words, words_cap;
    Py_UCS4 *chars;
    Py_ssize_t n_chars, chars_cap;
    int32_t *word_slots; /* open addressing: a word's id, 0 for empty */
    uint64_t word_mask;
    Pair *pairs;
    uint64_t pair_mask;
    Py_buffer table; /* int32, one per bucket: the bucket's column (0: none) */
    Py_buffer rows;  /* float32 (columns, width): class weights times idf, then idf^2 */
    Py_buffer bias;  /* float64 (k) */
    Py_buffer dense; /* float64 (n_dense, k): the parser features' weights */
    Py_ssize_t k, width, n_columns, n_dense, n_buckets;
    double block_weight[2]; /* the word block's, the character block's */
    uint32_t base, mix, salt[N_MAX - N_MIN + 1];
    int shift;
    int ready; /* __init__ succeeded */
} Scorer;

/* `re`'s `\w` on str patterns: alphanumeric (str.isalnum) or the underscore. */
static inline int
is_word(Py_UCS4 c)
{
    if (c < 128)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    return Py_UNICODE_ISALNUM(c);
}

static inline uint64_t
fnv(uint64_t h, Py_UCS4 c)
{
    return (h ^ c) * FNV_PRIME;
}

static inline uint64_t
mix64(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    return key ^ (key >> 33);
}

/* The id of the word data[start:start + length] (of `kind`) hashed to `h`, 0 if unknown. */
static int32_t
find_word(const Scorer *self, uint64_t h, int kind, const void *data, Py_ssize_t start,
          Py_ssize_t length)
{
    for (uint64_t slot = h & self->word_mask;; slot = (slot + 1) & self->word_mask) {
        int32_t id = self->word_slots[slot];
        if (!id)
            return 0;
        const Word *w = &self->words[id - 1];
        if (w->hash != h || w->length != length)
            continue;
        const Py_UCS4 *chars = self->chars + w->start;
        Py_ssize_t t = 0;
        while (t < length && chars[t] == PyUnicode_READ(kind, data, start + t))
            t++;
        if (t == length)
            return id;
    }
}

static int32_t
find_pair(const Scorer *self, int32_t first, int32_t second)
{
    uint64_t key = (uint64_t)first << 32 | (uint32_t)second;
    for (uint64_t slot = mix64(key) & self->pair_mask;; slot = (slot + 1) & self->pair_mask) {
        if (self->pairs[slot].key == key)
            return self->pairs[slot].column;
        if (!self->pairs[slot].key)
            return 0;
    }
}

/* The id of a word of the vocabulary (str `s`, characters [start, end)), added if new. */
static int32_t
intern_word(Scorer *self, PyObject *s, Py_ssize_t start, Py_ssize_t end, int32_t column)
{
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    uint64_t h = FNV_OFFSET;
    for (Py_ssize_t i = start; i < end; i++)
        h = fnv(h, PyUnicode_READ(kind, data, i));
    int32_t id = find_word(self, h, kind, data, start, end - start);
    if (id) {
        if (column)
            self->words[id - 1].column = column;
        return id;
    }
    if (self->n_words == self->words_cap) {
        PyErr_SetString(PyExc_ValueError, "more words than vocabulary terms");
        return -1;
    }
    if (self->n_chars + (end - start) > self->chars_cap) {
        Py_ssize_t cap = 2 * (self->chars_cap + (end - start));
        Py_UCS4 *chars = PyMem_Realloc(self->chars, (size_t)cap * sizeof(Py_UCS4));
        if (!chars) {
            PyErr_NoMemory();
            return -1;
        }
        self->chars = chars, self->chars_cap = cap;
    }
    for (Py_ssize_t i = start; i < end; i++)
        self->chars[self->n_chars + i - start] = PyUnicode_READ(kind, data, i);
    self->words[self->n_words] = (Word){h, self->n_chars, end - start, column};
    self->n_chars += end - start;
    id = (int32_t)++self->n_words;
    uint64_t slot = h & self->word_mask;
    while (self->word_slots[slot])
        slot = (slot + 1) & self->word_mask;
    self->word_slots[slot] = id;
    return id;
}

/* The vocabulary's terms as tables: words, then the pairs (a pair's words are added, with no
 * column, when only the pair holds them). */
static int
load_vocabulary(Scorer *self, PyObject *vocabulary)
{
    Py_ssize_t n = PyDict_GET_SIZE(vocabulary), cap = 16;
    while (cap < 4 * n + 16) /* words of the pairs included: at most 3 per term */
        cap *= 2;
    self->words_cap = 3 * n + 1;
    self->words = PyMem_Calloc((size_t)self->words_cap, sizeof(Word));
    self->word_slots = PyMem_Calloc((size_t)cap, sizeof(int32_t));
    self->pairs = PyMem_Calloc((size_t)cap, sizeof(Pair));
    self->word_mask = self->pair_mask = (uint64_t)cap - 1;
    if (!self->words || !self->word_slots || !self->pairs) {
        PyErr_NoMemory();
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        Py_ssize_t pos = 0;
        PyObject *term, *value;
        while (PyDict_Next(vocabulary, &pos, &term, &value)) {
            Py_ssize_t column = PyLong_AsSsize_t(value);
            if (column == -1 && PyErr_Occurred())
                return -1;
            if (!PyUnicode_Check(term) || column <= 0 || column >= self->n_columns) {
                PyErr_SetString(PyExc_ValueError, "a vocabulary term is not a str to a column");
                return -1;
            }
            Py_ssize_t length = PyUnicode_GET_LENGTH(term);
            Py_ssize_t space = PyUnicode_FindChar(term, ' ', 0, length, 1);
            if (space == -2)
                return -1;
            if (pass == 0 && space == -1) {
                if (intern_word(self, term, 0, length, (int32_t)column) < 0)
                    return -1;
            }
            else if (pass == 1 && space >= 0) {
                if (space == 0 || space == length - 1 ||
                    PyUnicode_FindChar(term, ' ', space + 1, length, 1) != -1) {
                    PyErr_SetString(PyExc_ValueError, "a vocabulary term is a word or a pair");
                    return -1;
                }
                int32_t first = intern_word(self, term, 0, space, 0);
                int32_t second = first < 0 ? -1 : intern_word(self, term, space + 1, length, 0);
                if (second < 0)
                    return -1;
                uint64_t key = (uint64_t)first << 32 | (uint32_t)second;
                uint64_t slot = mix64(key) & self->pair_mask;
                while (self->pairs[slot].key && self->pairs[slot].key != key)
                    slot = (slot + 1) & self->pair_mask;
                self->pairs[slot] = (Pair){key, (int32_t)column};
            }
        }
    }
    return 0;
}

static int
get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *formats,
           const char *name, int flags)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | flags) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    if (view->itemsize != itemsize || strlen(f) != 1 || !strchr(formats, *f)) {
        PyErr_Format(PyExc_TypeError, "%s: wrong element type '%s'", name, view->format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static void
Scorer_dealloc(Scorer *self)
{
    PyMem_Free(self->words);
    PyMem_Free(self->chars);
    PyMem_Free(self->word_slots);
    PyMem_Free(self->pairs);
    PyBuffer_Release(&self->table);
    PyBuffer_Release(&self->rows);
    PyBuffer_Release(&self->bias);
    PyBuffer_Release(&self->dense);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Scorer_init(Scorer *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"words", "table", "rows", "bias", "dense", "word_weight",
                            "char_weight", "base", "mix", "salts", "bits", NULL};
    PyObject *words, *table, *rows, *bias, *dense;
    unsigned long base, mix, s0, s1, s2;
    double word_weight, char_weight;
    int bits;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OOOOddkk(kkk)i", names, &PyDict_Type,
                                     &words, &table, &rows, &bias, &dense, &word_weight,
                                     &char_weight, &base, &mix, &s0, &s1, &s2, &bits))
        return -1;
    if (self->words || self->table.obj) { /* a second call, even after a failed first */
        PyErr_SetString(PyExc_RuntimeError, "a Scorer is initialised once");
        return -1;
    }
    self->block_weight[0] = word_weight;
    self->block_weight[1] = char_weight;
    if (get_buffer(table, &self->table, 4, "il", "table", 0) < 0 ||
        get_buffer(rows, &self->rows, 4, "f", "rows", 0) < 0 ||
        get_buffer(bias, &self->bias, 8, "d", "bias", 0) < 0 ||
        get_buffer(dense, &self->dense, 8, "d", "dense", 0) < 0)
        return -1;
    self->k = self->bias.len / 8;
    self->width = self->rows.ndim == 2 ? self->rows.shape[1] : 0;
    self->n_buckets = self->table.len / 4;
    if (self->k == 0 || self->width <= self->k || self->width % LANES || bits < 1 ||
        bits > 31 || self->n_buckets != ((Py_ssize_t)1 << bits) ||
        self->dense.len % (self->k * 8)) {
        PyErr_SetString(PyExc_ValueError, "the model's arrays do not fit together");
        return -1;
    }
    self->n_columns = self->rows.shape[0];
    self->n_dense = self->dense.len / (self->k * 8);
    const int32_t *columns = self->table.buf;
    for (Py_ssize_t b = 0; b < self->n_buckets; b++)
        if (columns[b] < 0 || columns[b] >= self->n_columns) {
            PyErr_SetString(PyExc_ValueError, "a bucket's column is outside the model");
            return -1;
        }
    self->base = (uint32_t)base;
    self->mix = (uint32_t)mix;
    self->salt[0] = (uint32_t)s0;
    self->salt[1] = (uint32_t)s1;
    self->salt[2] = (uint32_t)s2;
    self->shift = 32 - bits;
    if (load_vocabulary(self, words) < 0)
        return -1;
    self->ready = 1;
    return 0;
}

static inline void
add_row(double *restrict sum, const float *restrict row, Py_ssize_t width)
{
    for (Py_ssize_t t = 0; t < width; t += LANES)
        for (int u = 0; u < LANES; u++)
            sum[t + u] += row[t + u];
}

/* score(whole, spans, dense, out): write the logits of `whole` (row 0) and of each span of it
 * (rows 1...) into `out`, a float64 (1 + len(spans), k) buffer. Spans are (start, end) pairs in
 * order, not overlapping; `dense` has one row of parser features per row of `out`. */
static PyObject *
Scorer_score(Scorer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "score(whole: str, spans, dense, out)");
        return NULL;
    }
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "the Scorer was not initialised");
        return NULL;
    }
    PyObject *whole = args[0];
    Py_buffer out;
    if (get_buffer(args[3], &out, 8, "d", "out", PyBUF_WRITABLE) < 0)
        return NULL;
    /* Tuples of our own: reading an item (its __index__ or __float__) runs no code that could
     * change what is being read. */
    PyObject *spans = PySequence_Tuple(args[1]);
    PyObject *dense = spans ? PySequence_Tuple(args[2]) : NULL;
    if (!dense) {
        Py_XDECREF(spans);
        PyBuffer_Release(&out);
        return NULL;
    }
    const Py_ssize_t k = self->k, width = self->width, n = PyUnicode_GET_LENGTH(whole);
    const Py_ssize_t n_spans = PyTuple_GET_SIZE(spans), n_rows = n_spans + 1;
    const int kind = PyUnicode_KIND(whole);
    const void *data = PyUnicode_DATA(whole);
    const float *rows = self->rows.buf;
    const int32_t *table = self->table.buf;
    PyObject *features = NULL, *result = NULL;
    /* sums[(r * 2 + block) * width + t], each occurrence added once: to its sentence's row
     * (r = 1...) or, in none, to row 0, the message's; span_of[i]: the span holding character i,
     * or -1; span_end[j]: where span j ends */
    double *sums = PyMem_Calloc((size_t)n_rows * 2 * width, sizeof(double));
    Py_ssize_t *span_of = PyMem_Malloc((size_t)(n + 1) * sizeof(Py_ssize_t));
    Py_ssize_t *span_end = PyMem_Malloc((size_t)n_rows * sizeof(Py_ssize_t));
    if (!sums || !span_of || !span_end) {
        PyErr_NoMemory();
        goto done;
    }
    if (out.len != n_rows * k * 8 || PyTuple_GET_SIZE(dense) != n_rows) {
        PyErr_SetString(PyExc_ValueError, "out and dense need one row per span and the message");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        span_of[i] = -1;
    Py_ssize_t last = 0;
    for (Py_ssize_t j = 0; j < n_spans; j++) {
        features = PySequence_Tuple(PyTuple_GET_ITEM(spans, j)); /* (start, end) */
        if (!features)
            goto done;
        if (PyTuple_GET_SIZE(features) != 2) {
            PyErr_SetString(PyExc_TypeError, "a span is (start, end)");
            goto done;
        }
        Py_ssize_t a = PyNumber_AsSsize_t(PyTuple_GET_ITEM(features, 0), PyExc_OverflowError);
        Py_ssize_t b = a == -1 && PyErr_Occurred()
                           ? -1
                           : PyNumber_AsSsize_t(PyTuple_GET_ITEM(features, 1),
                                                PyExc_OverflowError);
        Py_CLEAR(features);
        if (PyErr_Occurred())
            goto done;
        if (a < last || b < a || b > n) {
            PyErr_SetString(PyExc_ValueError, "spans must be in order, inside the text");
            goto done;
        }
        for (Py_ssize_t i = a; i < b; i++)
            span_of[i] = j;
        span_end[j] = last = b;
    }

    /* Words and their pairs: a pair counts in a sentence where both of its words start in it.
     * A term outside the vocabulary adds nothing (column 0 is zeros), nor does a pair with an
     * unknown word (its words would be in the vocabulary). */
    int32_t previous = 0; /* the word before's id (0: none, or not in the vocabulary) */
    Py_ssize_t previous_span = -1;
    for (Py_ssize_t i = 0; i < n;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!is_word(c)) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        uint64_t h = FNV_OFFSET;
        do {
            h = fnv(h, c);
            if (++i == n)
                break;
            c = PyUnicode_READ(kind, data, i);
        } while (is_word(c));
        if (i - start < 2)
            continue; /* one character is not a word: the words around it make a pair */
        int32_t id = find_word(self, h, kind, data, start, i - start);
        Py_ssize_t span = span_of[start];
        int32_t columns[2] = {id ? self->words[id - 1].column : 0,
                              previous && id ? find_pair(self, previous, id) : 0};
        for (int t = 0; t < 2; t++) {
            if (!columns[t])
                continue;
            int inside = span >= 0 && (t == 0 || span == previous_span);
            add_row(inside ? sums + (span + 1) * 2 * width : sums,
                    rows + (Py_ssize_t)columns[t] * width, width);
        }
        previous = id, previous_span = span;
    }

    /* Character n-grams: a polynomial over the code points modulo 2**32, a salt per length,
     * then multiplicative hashing to the bucket. */
    const uint32_t base = self->base, mix = self->mix;
    for (Py_ssize_t i = 0; i + N_MIN <= n; i++) {
        uint32_t h = 0;
        for (int m = 0; m < N_MIN - 1; m++)
            h = h * base + (uint32_t)PyUnicode_READ(kind, data, i + m);
        Py_ssize_t span = span_of[i];
        for (int len = N_MIN; len <= N_MAX && i + len <= n; len++) {
            h = h * base + (uint32_t)PyUnicode_READ(kind, data, i + len - 1);
            uint32_t bucket = ((h + self->salt[len - N_MIN]) * mix) >> self->shift;
            const uint32_t column = (uint32_t)table[bucket];
            if (!column)
                continue; /* a bucket no training text had */
            if (column >= (uint32_t)self->n_columns) { /* the table was changed after init */
                PyErr_SetString(PyExc_ValueError, "a bucket's column is outside the model");
                goto done;
            }
            int inside = span >= 0 && i + len <= span_end[span];
            add_row(inside ? sums + ((span + 1) * 2 + 1) * width : sums + width,
                    rows + (Py_ssize_t)column * width, width);
        }
    }
    /* The message's sums: what lies in no sentence, plus the sentences'. */
    for (Py_ssize_t r = 1; r < n_rows; r++)
        for (Py_ssize_t t = 0; t < 2 * width; t++)
            sums[t] += sums[r * 2 * width + t];

    /* Per row: each block's sums over its l2 norm (the square root of the idf^2 sum) times the
     * block's weight, then the bias and the parser features times their weights. */
    double *logits = out.buf;
    const double *bias = self->bias.buf, *dense_w = self->dense.buf;
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        features = PySequence_Tuple(PyTuple_GET_ITEM(dense, r));
        if (!features)
            goto done;
        if (PyTuple_GET_SIZE(features) != self->n_dense) {
            PyErr_SetString(PyExc_ValueError, "a row of parser features has the wrong length");
            goto done;
        }
        double scale[2];
        for (int block = 0; block < 2; block++) {
            double norm = sqrt(sums[(r * 2 + block) * width + k]);
            scale[block] = self->block_weight[block] / (norm == 0.0 ? 1.0 : norm);
        }
        double *z = logits + r * k;
        const double *word_sums = sums + r * 2 * width, *char_sums = word_sums + width;
        for (Py_ssize_t c = 0; c < k; c++)
            z[c] = word_sums[c] * scale[0] + char_sums[c] * scale[1] + bias[c];
        for (Py_ssize_t d = 0; d < self->n_dense; d++) {
            double v = PyFloat_AsDouble(PyTuple_GET_ITEM(features, d));
            if (v == -1.0 && PyErr_Occurred())
                goto done;
            if (v != 0.0)
                for (Py_ssize_t c = 0; c < k; c++)
                    z[c] += v * dense_w[d * k + c];
        }
        Py_CLEAR(features);
    }
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(features);
    Py_DECREF(spans);
    Py_DECREF(dense);
    PyMem_Free(sums);
    PyMem_Free(span_of);
    PyMem_Free(span_end);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef Scorer_methods[] = {
    {"score", (PyCFunction)(void (*)(void))Scorer_score, METH_FASTCALL,
     "score(whole, spans, dense, out): the logits of a message and its spans, into out."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScorerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "bot.matching._scoring.Scorer",
    .tp_basicsize = sizeof(Scorer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scorer(words, table, rows, bias, dense, word_weight, char_weight, base, mix, "
              "salts, bits): a model's vocabulary and arrays, held for scoring messages.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scorer_init,
    .tp_dealloc = (destructor)Scorer_dealloc,
    .tp_methods = Scorer_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scoring", "The learned matcher's scoring kernel.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__scoring(void)
{
    if (PyType_Ready(&ScorerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Scorer", (PyObject *)&ScorerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
