/* The learned matcher's scoring kernel: the logits of a message and of its sentences.
 *
 * `LinearModel.score_message` (bot/matching/model.py) calls it; its docstring says what is
 * computed. In numpy the same sums took some 40 calls of 1-3 microseconds each per message
 * (a hash per character n-gram, two gathers, two products, the norms) and a Python string per
 * word and per pair; here it is one pass over the text:
 *   - the words (scikit-learn's token, `\w\w+`) are hashed as they are read and looked up in
 *     a table of the vocabulary's words; a pair of words by the two words' ids;
 *   - the character 3- to 5-grams are hashed into buckets (the polynomial of
 *     `features.char_buckets`, whose constants are passed in), each looked up in a bitmap of
 *     the buckets the model has, with a count of set bits before each 64: the buckets' columns
 *     are the model's last, in bucket order, so the count is the column (a quarter of a MB,
 *     which stays in a core's cache, where a table of a column per bucket is 4 MB and evicted
 *     the interpreter's own data on every long message);
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

/* 64 buckets of the bitmap: which the model has, and how many it has before them. */
typedef struct {
    uint64_t bits;
    int32_t rank;
} BucketWord;

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
    BucketWord *bucket_words; /* bucket b is bit b % 64 of word b / 64 */
    Py_ssize_t first_bucket_column; /* the column of the model's first bucket */
    Py_buffer rows;  /* float32 (columns, width): class weights times idf, then idf^2 */
    Py_buffer bias;  /* float64 (k) */
    Py_buffer dense; /* float64 (n_dense, k): the parser features' weights */
    Py_ssize_t k, width, n_columns, n_dense, n_buckets;
    double block_weight[2]; /* the word block's, the character block's */
    uint32_t base, mix, salt[N_MAX - N_MIN + 1];
    int shift;
    int called; /* __init__ was called, even if it failed */
    int ready;  /* __init__ succeeded */
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

static inline int
popcount64(uint64_t x) /* portable: no -mpopcnt needed */
{
    x -= (x >> 1) & 0x5555555555555555ULL;
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

/* A bucket's column, 0 if no training text had it. */
static inline int32_t
bucket_column(const Scorer *self, uint32_t bucket)
{
    const BucketWord *w = &self->bucket_words[bucket >> 6];
    const uint64_t bit = 1ULL << (bucket & 63);
    if (!(w->bits & bit))
        return 0;
    return (int32_t)self->first_bucket_column + w->rank + popcount64(w->bits & (bit - 1));
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

/* The bitmap of the buckets the model has: `buckets`, sorted, whose columns are the model's
 * last, in that order. */
static int
load_buckets(Scorer *self, const Py_buffer *buckets)
{
    const int64_t *b = buckets->buf;
    const Py_ssize_t present = buckets->len / 8, n_words = (self->n_buckets + 63) / 64;
    self->first_bucket_column = self->n_columns - present;
    if (self->first_bucket_column < 1) { /* column 0 is the unknown term's */
        PyErr_SetString(PyExc_ValueError, "more buckets than the model has columns");
        return -1;
    }
    for (Py_ssize_t i = 0; i < present; i++)
        if (b[i] < 0 || b[i] >= self->n_buckets || (i && b[i] <= b[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "the buckets must be sorted bucket ids, each once");
            return -1;
        }
    self->bucket_words = PyMem_Calloc((size_t)n_words, sizeof(BucketWord));
    if (!self->bucket_words) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t i = 0;
    for (Py_ssize_t w = 0; w < n_words; w++) {
        self->bucket_words[w].rank = (int32_t)i;
        for (; i < present && b[i] < (w + 1) * 64; i++)
            self->bucket_words[w].bits |= 1ULL << (b[i] % 64);
    }
    return 0;
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
    PyMem_Free(self->bucket_words);
    PyBuffer_Release(&self->rows);
    PyBuffer_Release(&self->bias);
    PyBuffer_Release(&self->dense);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Scorer_init(Scorer *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"words", "buckets", "rows", "bias", "dense", "word_weight",
                            "char_weight", "base", "mix", "salts", "bits", NULL};
    PyObject *words, *buckets_obj, *rows, *bias, *dense;
    Py_buffer buckets;
    unsigned long base, mix, s0, s1, s2;
    double word_weight, char_weight;
    int bits;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OOOOddkk(kkk)i", names, &PyDict_Type,
                                     &words, &buckets_obj, &rows, &bias, &dense, &word_weight,
                                     &char_weight, &base, &mix, &s0, &s1, &s2, &bits))
        return -1;
    if (self->called) { /* a second call, even after a failed first */
        PyErr_SetString(PyExc_RuntimeError, "a Scorer is initialised once");
        return -1;
    }
    self->called = 1;
    self->block_weight[0] = word_weight;
    self->block_weight[1] = char_weight;
    /* The buckets are read here and not kept: the bitmap is the scorer's own copy. */
    if (get_buffer(buckets_obj, &buckets, 8, "lq", "buckets", 0) < 0)
        return -1;
    if (get_buffer(rows, &self->rows, 4, "f", "rows", 0) < 0 ||
        get_buffer(bias, &self->bias, 8, "d", "bias", 0) < 0 ||
        get_buffer(dense, &self->dense, 8, "d", "dense", 0) < 0) {
        PyBuffer_Release(&buckets);
        return -1;
    }
    self->k = self->bias.len / 8;
    self->width = self->rows.ndim == 2 ? self->rows.shape[1] : 0;
    if (self->k == 0 || self->width <= self->k || self->width % LANES || bits < 1 ||
        bits > 31 || self->dense.len % (self->k * 8)) {
        PyErr_SetString(PyExc_ValueError, "the model's arrays do not fit together");
        PyBuffer_Release(&buckets);
        return -1;
    }
    self->n_buckets = (Py_ssize_t)1 << bits;
    self->n_columns = self->rows.shape[0];
    self->n_dense = self->dense.len / (self->k * 8);
    int loaded = load_buckets(self, &buckets);
    PyBuffer_Release(&buckets);
    if (loaded < 0)
        return -1;
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

/* Rows waiting to be added, each fetched from memory while the next are found: the rows are
 * megabytes, a look-up mostly misses the cache, and adding each as soon as it is found left the
 * kernel waiting on memory for two thirds of its time. */
#define AHEAD 16
#define LOOKUPS_AHEAD 8
typedef struct {
    const float *row[AHEAD];
    double *sum[AHEAD];
    size_t n; /* rows queued so far: a message may queue more than 2**32 */
} Pending;

static inline void
add_later(Pending *p, double *sum, const float *row, Py_ssize_t width)
{
    const size_t at = p->n++ % AHEAD;
    if (p->n > AHEAD)
        add_row(p->sum[at], p->row[at], width);
    __builtin_prefetch(row);
    p->row[at] = row, p->sum[at] = sum;
}

/* Buckets waiting to be looked up, their bitmap words fetched meanwhile: the look-up of each
 * found waits on the bitmap as the addition waited on the rows. */
typedef struct {
    uint32_t bucket[LOOKUPS_AHEAD];
    double *sum[LOOKUPS_AHEAD];
    size_t n;
} Lookups;

static inline void
look_up(const Scorer *self, Pending *p, uint32_t bucket, double *sum, const float *rows,
        Py_ssize_t width)
{
    const int32_t column = bucket_column(self, bucket);
    if (column) /* else a bucket no training text had */
        add_later(p, sum, rows + (Py_ssize_t)column * width, width);
}

static inline void
look_up_later(const Scorer *self, Lookups *q, Pending *p, uint32_t bucket, double *sum,
              const float *rows, Py_ssize_t width)
{
    const size_t at = q->n++ % LOOKUPS_AHEAD;
    if (q->n > LOOKUPS_AHEAD)
        look_up(self, p, q->bucket[at], q->sum[at], rows, width);
    __builtin_prefetch(&self->bucket_words[bucket >> 6]);
    q->bucket[at] = bucket, q->sum[at] = sum;
}

static inline void
look_up_pending(const Scorer *self, Lookups *q, Pending *p, const float *rows, Py_ssize_t width)
{
    for (size_t i = q->n > LOOKUPS_AHEAD ? q->n - LOOKUPS_AHEAD : 0; i < q->n; i++)
        look_up(self, p, q->bucket[i % LOOKUPS_AHEAD], q->sum[i % LOOKUPS_AHEAD], rows, width);
    q->n = 0;
}

static inline void
add_pending(Pending *p, Py_ssize_t width)
{
    for (size_t i = p->n > AHEAD ? p->n - AHEAD : 0; i < p->n; i++)
        add_row(p->sum[i % AHEAD], p->row[i % AHEAD], width);
    p->n = 0;
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
    Pending pending = {.n = 0};
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
            add_later(&pending, inside ? sums + (span + 1) * 2 * width : sums,
                      rows + (Py_ssize_t)columns[t] * width, width);
        }
        previous = id, previous_span = span;
    }

    /* Character n-grams: a polynomial over the code points modulo 2**32, a salt per length,
     * then multiplicative hashing to the bucket. */
    const uint32_t base = self->base, mix = self->mix;
    Lookups lookups = {.n = 0};
    for (Py_ssize_t i = 0; i + N_MIN <= n; i++) {
        uint32_t h = 0;
        for (int m = 0; m < N_MIN - 1; m++)
            h = h * base + (uint32_t)PyUnicode_READ(kind, data, i + m);
        Py_ssize_t span = span_of[i];
        for (int len = N_MIN; len <= N_MAX && i + len <= n; len++) {
            h = h * base + (uint32_t)PyUnicode_READ(kind, data, i + len - 1);
            uint32_t bucket = ((h + self->salt[len - N_MIN]) * mix) >> self->shift;
            int inside = span >= 0 && i + len <= span_end[span];
            look_up_later(self, &lookups, &pending, bucket,
                          inside ? sums + ((span + 1) * 2 + 1) * width : sums + width, rows,
                          width);
        }
    }
    look_up_pending(self, &lookups, &pending, rows, width);
    add_pending(&pending, width);
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

/* A float64 (rows, k) buffer of logits, one row at least (row 0 the whole message's). */
static int
get_logits(PyObject *obj, Py_buffer *view, Py_ssize_t *rows, Py_ssize_t *k)
{
    if (get_buffer(obj, view, 8, "d", "logits", 0) < 0)
        return -1;
    *rows = view->ndim == 2 ? view->shape[0] : 0;
    *k = view->ndim == 2 ? view->shape[1] : 0;
    if (*rows < 1) {
        PyErr_SetString(PyExc_ValueError, "logits (rows, k), one row at least");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* probabilities(logits, top, weights, out): the second stage (`bot.matching.secondary`, whose
 * `features` this computes per class, in its column order) as one call: some 20 numpy calls
 * on a handful of rows cost more than the arithmetic. `logits` is float64 (rows, k), row 0
 * the whole message; `weights` float64 (7); `out` float64 (k), written. */
#define N_SECONDARY 7
static PyObject *
secondary_probabilities(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "probabilities(logits, top, weights, out)");
        return NULL;
    }
    Py_ssize_t top = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (top == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer logits, weights, out;
    Py_ssize_t rows, k;
    if (get_logits(args[0], &logits, &rows, &k) < 0)
        return NULL;
    if (get_buffer(args[2], &weights, 8, "d", "weights", 0) < 0) {
        PyBuffer_Release(&logits);
        return NULL;
    }
    if (get_buffer(args[3], &out, 8, "d", "out", PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&logits);
        PyBuffer_Release(&weights);
        return NULL;
    }
    PyObject *result = NULL;
    double *best_of = NULL; /* per class: its best score and margin on a sentence */
    if (k < 1 || top < 0 || top >= k || out.len != k * 8 || weights.len != N_SECONDARY * 8) {
        PyErr_SetString(PyExc_ValueError, "logits (rows, k), 0 <= top < k, 7 weights, k out");
        goto done;
    }
    /* out is written while logits are read: it must be memory of its own */
    const char *o = out.buf, *l = logits.buf, *wt = weights.buf;
    if ((o < l + logits.len && l < o + out.len) || (o < wt + weights.len && wt < o + out.len)) {
        PyErr_SetString(PyExc_ValueError, "out must not overlap logits or weights");
        goto done;
    }
    /* the comparisons below pass over a NaN where numpy's sort and maxima carry it */
    for (Py_ssize_t i = 0; i < rows * k; i++)
        if (!isfinite(((const double *)logits.buf)[i])) {
            PyErr_SetString(PyExc_ValueError, "logits must be finite");
            goto done;
        }
    const double *z = logits.buf, *w = weights.buf;
    double *p = out.buf;
    /* a message of one sentence is its own sentence */
    const double *first = rows > 1 ? z + k : z;
    const Py_ssize_t n_sentences = rows > 1 ? rows - 1 : 1;
    /* the runner-up of the whole message: the second of a stable descending sort */
    Py_ssize_t best_k = 0, runner_k = -1;
    for (Py_ssize_t c = 1; c < k; c++) {
        if (z[c] > z[best_k])
            runner_k = best_k, best_k = c;
        else if (runner_k < 0 || z[c] > z[runner_k])
            runner_k = c;
    }
    best_of = PyMem_Malloc((size_t)(2 * k) * sizeof(double));
    if (!best_of) {
        PyErr_NoMemory();
        goto done;
    }
    double *top_score = best_of, *top_margin = best_of + k;
    for (Py_ssize_t c = 0; c < k; c++)
        top_score[c] = top_margin[c] = -INFINITY;
    for (Py_ssize_t s = 0; s < n_sentences; s++) {
        const double *row = first + s * k;
        double best = -INFINITY, runner = -INFINITY; /* the row sorted: its last two */
        for (Py_ssize_t d = 0; d < k; d++) {
            if (row[d] >= best)
                runner = best, best = row[d];
            else if (row[d] > runner)
                runner = row[d];
        }
        if (k == 1)
            runner = best;
        for (Py_ssize_t c = 0; c < k; c++) {
            const double margin = row[c] - (row[c] >= best ? runner : best);
            if (row[c] > top_score[c])
                top_score[c] = row[c];
            if (margin > top_margin[c])
                top_margin[c] = margin;
        }
    }
    const double log_sentences = log1p((double)(rows - 1));
    for (Py_ssize_t c = 0; c < k; c++) {
        const double f[N_SECONDARY] = {
            z[c], top_score[c], top_margin[c], log_sentences, z[c] - z[top],
            k > 1 && c == runner_k ? 1.0 : 0.0, 1.0,
        };
        double sum = 0.0;
        for (int j = 0; j < N_SECONDARY; j++)
            sum += f[j] * w[j];
        sum = sum < -500.0 ? -500.0 : sum > 500.0 ? 500.0 : sum;
        p[c] = 1.0 / (1.0 + exp(-sum));
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(best_of);
    PyBuffer_Release(&logits);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&out);
    return result;
}

/* combined(logits, sentence_weight): each class's score for the best issue, as a list: the
 * whole message's (row 0) averaged by `sentence_weight` with its best score on a sentence (rows
 * 1...), as `(logits[0] + w * max(logits[1:])) / (1 + w)` in that order of operations; row 0
 * alone when there is no sentence or no weight. A NaN carries, as in numpy's maximum. */
static PyObject *
combined_scores(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "combined(logits, sentence_weight)");
        return NULL;
    }
    const double weight = PyFloat_AsDouble(args[1]);
    if (weight == -1.0 && PyErr_Occurred())
        return NULL;
    Py_buffer logits;
    Py_ssize_t rows, k;
    if (get_logits(args[0], &logits, &rows, &k) < 0)
        return NULL;
    const double *z = logits.buf;
    PyObject *result = PyList_New(k);
    for (Py_ssize_t c = 0; result && c < k; c++) {
        double value = z[c];
        if (weight != 0.0 && rows > 1) {
            double best = z[k + c];
            for (Py_ssize_t r = 2; r < rows; r++) {
                const double x = z[r * k + c];
                if (x > best || x != x)
                    best = best != best ? best : x;
            }
            value = (z[c] + weight * best) / (1.0 + weight);
        }
        PyObject *item = PyFloat_FromDouble(value);
        if (!item)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, c, item);
    }
    PyBuffer_Release(&logits);
    return result;
}

static PyMethodDef module_methods[] = {
    {"combined", (PyCFunction)(void (*)(void))combined_scores, METH_FASTCALL,
     "combined(logits, sentence_weight): each class's score for the best issue, as a list."},
    {"probabilities", (PyCFunction)(void (*)(void))secondary_probabilities, METH_FASTCALL,
     "probabilities(logits, top, weights, out): the second stage's probability per class."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Scorer_methods[] = {
    {"score", (PyCFunction)(void (*)(void))Scorer_score, METH_FASTCALL,
     "score(whole, spans, dense, out): the logits of a message and its spans, into out."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScorerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "bot.matching._scoring.Scorer",
    .tp_basicsize = sizeof(Scorer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scorer(words, buckets, rows, bias, dense, word_weight, char_weight, base, mix, "
              "salts, bits): a model's vocabulary and arrays, held for scoring messages.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scorer_init,
    .tp_dealloc = (destructor)Scorer_dealloc,
    .tp_methods = Scorer_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scoring", "The learned matcher's scoring kernel.", -1, module_methods,
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
