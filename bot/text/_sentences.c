/* The sentences of a normalised message and how each reads, in one pass.
 *
 * `features.segments` calls it on lower-case ASCII text (what `normalise` leaves of most
 * messages). It does in C what three Python steps did, and must give exactly what they give
 * (tests/test_fast_patterns.py holds it to the plain patterns on random texts):
 *   - `normalize.split_units` on the text whose hard-wrapped lines are already joined: the
 *     pieces between the separators of `normalize._SENTENCE_SPLIT`, whose branches are tried
 *     at each position in the pattern's order (see `separator_at`), the empty and blank pieces
 *     left out;
 *   - each piece's single-spaced form looked for in the single-spaced message (`whole`) from
 *     the end of the last sentence kept (`str.find`), a piece not found left out;
 *   - `sentences.sentence_mood` of the piece and its words (`\w\w+`), a piece with no word
 *     left out.
 * Stepping through characters of the pattern's look-behinds and classes by hand is what the
 * regex engine and three Python calls per sentence cost before: a sampled sixth of `classify`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* sentences.py's bits; OPENER marks a question's first word, which asks only when first. */
#define NEG 1
#define ASK 2
#define REQ 4
#define OPENER 8
#define MAX_WORD 16 /* longer mood words are refused, longer tokens never looked up */
#define SLOTS 512   /* open addressing, a power of two, at most half full */

typedef struct {
    uint8_t length; /* 0: an empty slot */
    uint8_t bits;
    char chars[MAX_WORD];
} MoodWord;

typedef struct {
    MoodWord slots[SLOTS];
    int n_words;
} MoodTable;

typedef struct {
    PyObject_HEAD
    MoodTable table;
    int ready; /* initialised once: the cached reader is shared by the whole process */
} Segmenter;

/* `\s` and `\w` of `re` on ASCII (`str.split` splits on the same blanks). */
static inline int is_space(Py_UCS1 c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static inline int is_digit(Py_UCS1 c) { return c >= '0' && c <= '9'; }

static inline int is_word(Py_UCS1 c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

static uint32_t word_hash(const Py_UCS1 *s, Py_ssize_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static MoodWord *slot_of(MoodTable *table, const Py_UCS1 *s, Py_ssize_t n) {
    uint32_t at = word_hash(s, n) & (SLOTS - 1);
    while (table->slots[at].length &&
           (table->slots[at].length != n || memcmp(table->slots[at].chars, s, (size_t)n) != 0))
        at = (at + 1) & (SLOTS - 1);
    return &table->slots[at];
}

static int add_words(MoodTable *table, PyObject *words, uint8_t bits) {
    PyObject *iterator = PyObject_GetIter(words);
    if (iterator == NULL) return -1;
    PyObject *word;
    while ((word = PyIter_Next(iterator)) != NULL) {
        Py_ssize_t n;
        const char *s = PyUnicode_Check(word) ? PyUnicode_AsUTF8AndSize(word, &n) : NULL;
        int fits = s != NULL && PyUnicode_IS_ASCII(word) && n >= 1 && n <= MAX_WORD;
        if (fits) {
            MoodWord *slot = slot_of(table, (const Py_UCS1 *)s, n);
            if (slot->length == 0) {
                fits = table->n_words < SLOTS / 2;
                if (fits) {
                    slot->length = (uint8_t)n;
                    memcpy(slot->chars, s, (size_t)n);
                    table->n_words++;
                }
            }
            slot->bits |= bits;
        }
        Py_DECREF(word);
        if (!fits) {
            Py_DECREF(iterator);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError,
                             "mood words are ASCII strings of 1 to %d characters, at most %d",
                             MAX_WORD, SLOTS / 2);
            return -1;
        }
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

static int Segmenter_init(Segmenter *self, PyObject *args, PyObject *kwargs) {
    PyObject *negation, *openers, *requests;
    static char *keywords[] = {"negation", "openers", "requests", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO", keywords, &negation, &openers,
                                     &requests))
        return -1;
    if (self->ready) {
        PyErr_SetString(PyExc_TypeError, "a Segmenter is initialised once");
        return -1;
    }
    MoodTable *table = PyMem_Calloc(1, sizeof(MoodTable));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int failed = add_words(table, negation, NEG) < 0 || add_words(table, openers, OPENER) < 0 ||
                 add_words(table, requests, REQ) < 0;
    if (!failed) { /* the words all checked: the table is taken whole or not at all */
        self->table = *table;
        self->ready = 1;
    }
    PyMem_Free(table);
    return failed ? -1 : 0;
}

/* --- the separators: `normalize._SENTENCE_SPLIT`'s branches, lower-case text --- */

static inline int starts(const Py_UCS1 *t, Py_ssize_t n, Py_ssize_t at, const char *w,
                         Py_ssize_t len) {
    return at + len <= n && memcmp(t + at, w, (size_t)len) == 0;
}
#define STARTS(t, n, at, w) starts(t, n, at, w, (Py_ssize_t)sizeof(w) - 1)

static inline Py_ssize_t skip_spaces(const Py_UCS1 *t, Py_ssize_t n, Py_ssize_t at) {
    while (at < n && is_space(t[at])) at++;
    return at;
}

/* `\s+` from at: where it ends, or -1 when no blank is there. */
static inline Py_ssize_t spaces(const Py_UCS1 *t, Py_ssize_t n, Py_ssize_t at) {
    Py_ssize_t end = skip_spaces(t, n, at);
    return end > at ? end : -1;
}

/* `w\b` at at. */
static inline int bounded(const Py_UCS1 *t, Py_ssize_t n, Py_ssize_t at, const char *w,
                          Py_ssize_t len) {
    return starts(t, n, at, w, len) && (at + len == n || !is_word(t[at + len]));
}
#define BOUNDED(t, n, at, w) bounded(t, n, at, w, (Py_ssize_t)sizeof(w) - 1)

/* `(?:and\s+also|also,?|plus|another\s+thing|secondly|besides)\s+` at k. No alternative can
 * begin inside a blank, so the `\s*` before it has only its greedy reading. */
static Py_ssize_t linking_words(const Py_UCS1 *t, Py_ssize_t n, Py_ssize_t k) {
    Py_ssize_t at, end;
    if (STARTS(t, n, k, "and") && (at = spaces(t, n, k + 3)) >= 0 && STARTS(t, n, at, "also") &&
        (end = spaces(t, n, at + 4)) >= 0)
        return end;
    if (STARTS(t, n, k, "also")) {
        if (k + 4 < n && t[k + 4] == ',' && (end = spaces(t, n, k + 5)) >= 0) return end;
        if ((end = spaces(t, n, k + 4)) >= 0) return end;
    }
    if (STARTS(t, n, k, "plus") && (end = spaces(t, n, k + 4)) >= 0) return end;
    if (STARTS(t, n, k, "another") && (at = spaces(t, n, k + 7)) >= 0 &&
        STARTS(t, n, at, "thing") && (end = spaces(t, n, at + 5)) >= 0)
        return end;
    if (STARTS(t, n, k, "secondly") && (end = spaces(t, n, k + 8)) >= 0) return end;
    if (STARTS(t, n, k, "besides") && (end = spaces(t, n, k + 7)) >= 0) return end;
    return -1;
}

/* `(?:and|but)\s+` at k: where it ends, or -1. */
static inline Py_ssize_t and_but(const Py_UCS1 *t, Py_ssize_t n, Py_ssize_t k) {
    if (!STARTS(t, n, k, "and") && !STARTS(t, n, k, "but")) return -1;
    return spaces(t, n, k + 3);
}

/* The run of blanks the scan is in: where it ends and where linking words after it end (-1:
 * none). Every blank of a run reaches the same end, so both are found once per run, not once
 * per blank (a run of thousands of blanks would cost its square). */
typedef struct {
    Py_ssize_t end, words_end;
} BlankRun;

/* The end of the separator that starts at i, or -1: the pattern's branches in its order. */
static Py_ssize_t separator_at(const Py_UCS1 *t, Py_ssize_t n, Py_ssize_t i, BlankRun *run) {
    Py_UCS1 c = t[i];
    Py_ssize_t end;
    if (is_space(c)) {
        Py_UCS1 before = i > 0 ? t[i - 1] : 0;
        if (before == '.' || before == '!' || before == '?' || before == ';')
            return skip_spaces(t, n, i + 1); /* (?<=[.!?;]\s)\s* */
        if (c == '\n') {                     /* (?<=\n)\n* */
            end = i + 1;
            while (end < n && t[end] == '\n') end++;
            return end;
        }
        if (i >= run->end) { /* i + 1 is in the run (or ends it) for every blank before its end */
            run->end = skip_spaces(t, n, i + 1);
            run->words_end = linking_words(t, n, run->end);
        }
        if (run->words_end >= 0) return run->words_end;
        /* (?:and|but)\s+(?=btw\b|also\b|my\b|i\b), right after the one blank */
        if ((end = and_but(t, n, i + 1)) >= 0 &&
            (BOUNDED(t, n, end, "btw") || BOUNDED(t, n, end, "also") ||
             BOUNDED(t, n, end, "my") || BOUNDED(t, n, end, "i")))
            return end;
        return -1;
    }
    if (c == '(') /* "(1)" */
        return i + 2 < n && is_digit(t[i + 1]) && t[i + 2] == ')' ? i + 3 : -1;
    if (is_digit(c)) /* "1) ", not "x1) " */
        return i + 2 < n && t[i + 1] == ')' && is_space(t[i + 2]) && !(i > 0 && is_word(t[i - 1]))
                   ? i + 3
                   : -1;
    if (c == ',') /* ",\s*(?:and|but)\s+" */
        return and_but(t, n, skip_spaces(t, n, i + 1));
    return -1;
}

/* --- the pieces: where each lies in the single-spaced message, and its mood --- */

/* `piece`'s words single-spaced into out (room for its length); the length written. */
static Py_ssize_t single_spaced(const Py_UCS1 *piece, Py_ssize_t n, Py_UCS1 *out) {
    Py_ssize_t length = 0;
    for (Py_ssize_t i = skip_spaces(piece, n, 0); i < n; i = skip_spaces(piece, n, i)) {
        if (length) out[length++] = ' ';
        while (i < n && !is_space(piece[i])) out[length++] = piece[i++];
    }
    return length;
}

/* `whole.find(unit, from)`. */
static Py_ssize_t find(const Py_UCS1 *whole, Py_ssize_t n, const Py_UCS1 *unit,
                       Py_ssize_t length, Py_ssize_t from) {
    if (length == 0) return from <= n ? from : -1;
    for (Py_ssize_t at = from; at + length <= n; at++) {
        const Py_UCS1 *hit = memchr(whole + at, unit[0], (size_t)(n - length - at + 1));
        if (hit == NULL) return -1;
        at = hit - whole;
        if (memcmp(hit, unit, (size_t)length) == 0) return at;
    }
    return -1;
}

/* The mood bits of a sentence, or -1 when it has no word of two characters. */
static int mood_of(Segmenter *self, const Py_UCS1 *s, Py_ssize_t n) {
    int bits = 0, first = 1;
    for (Py_ssize_t i = 0; i < n;) {
        if (!is_word(s[i])) {
            bits |= s[i] == '?' ? ASK : 0;
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < n && is_word(s[i])) i++;
        Py_ssize_t length = i - start;
        if (length < 2) continue; /* a word is `\w\w+` */
        int found = length <= MAX_WORD ? slot_of(&self->table, s + start, length)->bits : 0;
        bits |= found & (NEG | REQ);
        if (first) {
            first = 0;
            bits |= found & OPENER ? ASK : 0;
        }
    }
    return first ? -1 : bits;
}

static PyObject *Segmenter_segment(Segmenter *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1]) ||
        !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "segment(text: str, whole: str, limit: int)");
        return NULL;
    }
    PyObject *text = args[0], *whole = args[1];
    Py_ssize_t limit = PyNumber_AsSsize_t(args[2], NULL); /* clamped: past 2**63 is no limit */
    if (limit == -1 && PyErr_Occurred()) return NULL;
    if (!self->ready) {
        PyErr_SetString(PyExc_TypeError, "the Segmenter was not initialised");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text) || !PyUnicode_IS_ASCII(whole)) {
        PyErr_SetString(PyExc_ValueError, "segment reads ASCII text and whole only");
        return NULL;
    }
    const Py_UCS1 *t = PyUnicode_1BYTE_DATA(text), *w = PyUnicode_1BYTE_DATA(whole);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), n_whole = PyUnicode_GET_LENGTH(whole);
    for (Py_ssize_t i = 0; i < n; i++)
        if (t[i] >= 'A' && t[i] <= 'Z') { /* the separators' words are matched in lower case */
            PyErr_SetString(PyExc_ValueError, "segment reads lower-case text only");
            return NULL;
        }
    PyObject *spans = PyList_New(0), *moods = PyList_New(0);
    Py_UCS1 *scratch = PyMem_Malloc((size_t)n + 1);
    if (spans == NULL || moods == NULL || scratch == NULL) goto failed;

    Py_ssize_t start = 0, cursor = 0;
    BlankRun run = {0, -1};
    for (Py_ssize_t i = 0; i <= n && PyList_GET_SIZE(spans) < limit;) {
        Py_ssize_t end = i < n ? separator_at(t, n, i, &run) : n;
        if (end < 0) {
            i++;
            continue;
        }
        Py_ssize_t length = single_spaced(t + start, i - start, scratch);
        start = i = i < n ? end : n + 1;
        Py_ssize_t at = length ? find(w, n_whole, scratch, length, cursor) : -1;
        int mood = at >= 0 ? mood_of(self, w + at, length) : -1;
        if (mood < 0) continue;
        PyObject *span = Py_BuildValue("(nn)", at, at + length);
        PyObject *bits = PyLong_FromLong(mood);
        int failed = span == NULL || bits == NULL || PyList_Append(spans, span) < 0 ||
                     PyList_Append(moods, bits) < 0;
        Py_XDECREF(span);
        Py_XDECREF(bits);
        if (failed) goto failed;
        cursor = at + length;
    }
    PyMem_Free(scratch);
    return Py_BuildValue("(NN)", spans, moods);

failed:
    PyMem_Free(scratch);
    Py_XDECREF(spans);
    Py_XDECREF(moods);
    return PyErr_Occurred() ? NULL : PyErr_NoMemory();
}

static PyMethodDef Segmenter_methods[] = {
    {"segment", (PyCFunction)(void (*)(void))Segmenter_segment, METH_FASTCALL,
     "segment(text, whole, limit): the spans in `whole` of text's sentences, and their moods."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SegmenterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "bot.text._sentences.Segmenter",
    .tp_basicsize = sizeof(Segmenter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Segmenter(negation, openers, requests): a reader of sentences and their moods.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Segmenter_init,
    .tp_methods = Segmenter_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sentences", "Sentences and their moods, compiled.", -1, NULL,
};

PyMODINIT_FUNC PyInit__sentences(void) {
    if (PyType_Ready(&SegmenterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&SegmenterType);
    if (PyModule_AddObject(m, "Segmenter", (PyObject *)&SegmenterType) < 0) {
        Py_DECREF(&SegmenterType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
