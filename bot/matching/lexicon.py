"""The matcher's word lists: stop words and synonyms (raw word -> canonical token).

Data, not logic: extend these when candidates use a word the examples do not.
"""

STOPWORDS = frozenset(
    """
    a an the to for of in on at by with from as is are was were be been being am i me my
    mine we our ours you your yours he she him her they them their it its this that these
    those and or so if then than there here do does did done doing have has had having will
    would shall should could may might must just very really please kindly hi hello hey dear
    sir madam mam team all about into up what which how why whom whose even too some now im
    ive id i'm also both each such own same s t d ll m re ve y o dont etc via per cc
    fyi pls plz
    """.split()  # noqa: SIM905
)

# Raw word -> canonical token(s). Stems alone would miss irregular forms and domain synonyms.
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        (
            "invite",
            "invites",
            "invited",
            "inviting",
            "invitation",
            "invitations",
            "invitational",
            "inv",
        ),
        "invit",
    ),
    **dict.fromkeys(("voucher", "vouchers", "coupon", "coupons", "vouchers"), "voucher"),
    **dict.fromkeys(("promo", "promos", "promotion", "promotions", "promotional"), "promo"),
    "promocode": "promo code",
    "promocodes": "promo code",
    **dict.fromkeys(
        (
            "register",
            "registers",
            "registered",
            "registering",
            "registration",
            "registrations",
            "reg",
            "regs",
            "registred",
            "signup",
            "enrol",
            "enroll",
            "enrolled",
            "enrolment",
            "enrollment",
            "rego",
        ),
        "regist",
    ),
    **dict.fromkeys(
        (
            "book",
            "books",
            "booked",
            "booking",
            "bookings",
            "schedule",
            "scheduled",
            "scheduling",
            "appointment",
            "appointments",
            "reserve",
            "reserved",
            "seat",
        ),
        "book",
    ),
    **dict.fromkeys(
        ("exam", "exams", "test", "tests", "tested", "testing", "examination", "paper"), "exam"
    ),
    **dict.fromkeys(("beta", "betas"), "beta"),
    **dict.fromkeys(
        (
            "take",
            "took",
            "taken",
            "takes",
            "taking",
            "sat",
            "sit",
            "sitting",
            "wrote",
            "appeared",
            "gave",
        ),
        "take",
    ),
    **dict.fromkeys(
        (
            "result",
            "results",
            "score",
            "scores",
            "scored",
            "outcome",
            "outcomes",
            "marks",
            "grade",
            "grades",
        ),
        "result",
    ),
    **dict.fromkeys(("transcript", "transcripts", "record", "records"), "transcript"),
    **dict.fromkeys(
        (
            "certification",
            "certifications",
            "certificate",
            "certificates",
            "cert",
            "certs",
            "certified",
            "credential",
            "credentials",
            "mcts",
            "mcse",
            "mcitp",
            "mcsa",
        ),
        "certif",
    ),
    **dict.fromkeys(
        ("retake", "retakes", "retaking", "retaker", "retakers", "resit", "resits", "retook"),
        "retake",
    ),
    **dict.fromkeys(
        ("receive", "received", "receiving", "receives", "recieve", "recieved"), "receiv"
    ),
    **dict.fromkeys(("get", "got", "gotten", "getting", "gets"), "get"),
    **dict.fromkeys(
        ("arrive", "arrived", "arrives", "arriving", "came", "come", "comes", "coming"), "arriv"
    ),
    **dict.fromkeys(("never", "not", "no", "nothing", "none", "nope", "nowhere", "nor"), "not"),
    **dict.fromkeys(
        (
            "error",
            "errors",
            "errored",
            "crash",
            "crashes",
            "crashed",
            "crashing",
            "bug",
            "glitch",
            "exception",
        ),
        "error",
    ),
    **dict.fromkeys(("fail", "fails", "failed", "failing", "failure"), "fail"),
    **dict.fromkeys(
        ("country", "countries", "region", "regions", "location", "nation", "territory"), "country"
    ),
    **dict.fromkeys(
        (
            "restricted",
            "restriction",
            "restrictions",
            "restrict",
            "excluded",
            "exclude",
            "exclusion",
            "banned",
            "ban",
            "embargo",
            "sanction",
            "sanctions",
        ),
        "restrict",
    ),
    **dict.fromkeys(("eligible", "ineligible", "eligibility"), "eligib"),
    **dict.fromkeys(("available", "availability", "avail"), "avail"),
    "unavailable": "not avail",
    **dict.fromkeys(("list", "listed", "listing", "lists", "catalogue", "catalog"), "list"),
    **dict.fromkeys(
        (
            "thanks",
            "thank",
            "thx",
            "ty",
            "cheers",
            "thankyou",
            "tks",
            "thnx",
            "thanx",
            "tnx",
            "merci",
            "gracias",
            "danke",
        ),
        "thank",
    ),
    **dict.fromkeys(("work", "works", "worked", "working"), "work"),
    **dict.fromkeys(
        ("phone", "phones", "phoned", "call", "called", "calling", "calls", "rang", "telephone"),
        "phone",
    ),
    **dict.fromkeys(
        ("provider", "providers", "site", "website", "web", "portal", "page"), "provider"
    ),
    **dict.fromkeys(("centre", "center", "centres", "centers"), "centre"),
    **dict.fromkeys(
        ("email", "emails", "mail", "mails", "inbox", "mailbox", "spam", "junk"), "email"
    ),
    **dict.fromkeys(("other", "another", "different", "else", "others"), "other"),
    **dict.fromkeys(("use", "used", "using", "redeem", "redeemed", "apply", "applied"), "use"),
    **dict.fromkeys(
        (
            "reject",
            "rejects",
            "rejected",
            "refuse",
            "refused",
            "refuses",
            "declined",
            "denied",
            "decline",
        ),
        "reject",
    ),
    **dict.fromkeys(
        (
            "accept",
            "accepted",
            "accepts",
            "accepting",
            "recognised",
            "recognized",
            "recognise",
            "recognize",
        ),
        "accept",
    ),
    **dict.fromkeys(("pass", "passed", "passing", "passes", "cleared"), "pass"),
    **dict.fromkeys(("wait", "waiting", "waited", "waits"), "wait"),
    **dict.fromkeys(("week", "weeks", "month", "months", "day", "days", "year", "years"), "period"),
    **dict.fromkeys(("someone", "somebody", "who", "anyone", "anybody"), "someone"),
    **dict.fromkeys(("account", "profile", "dashboard"), "account"),
    **dict.fromkeys(("once", "twice", "again", "second", "more"), "again"),
    **dict.fromkeys(("expired", "expire", "expires", "expiry"), "expire"),
    **dict.fromkeys(
        (
            "send",
            "sent",
            "sending",
            "resend",
            "resent",
            "share",
            "provide",
            "forward",
            "dm",
            "give",
        ),
        "send",
    ),
    **dict.fromkeys(("open", "opens", "opened", "opening", "live"), "open"),
    **dict.fromkeys(
        ("join", "joining", "participate", "participating", "participation", "attend"), "join"
    ),
    **dict.fromkeys(
        (
            "show",
            "shows",
            "showing",
            "shown",
            "showed",
            "appear",
            "appears",
            "appeared",
            "display",
            "displays",
        ),
        "show",
    ),
    **dict.fromkeys(("find", "found", "search", "searched", "searching", "locate"), "find"),
    **dict.fromkeys(("missing", "lost", "lose", "absent"), "missing"),
    **dict.fromkeys(("code", "codes", "key", "keys"), "code"),
    **dict.fromkeys(("valid", "validity"), "valid"),
    **dict.fromkeys(("invalid", "incorrect", "wrong"), "invalid"),
    **dict.fromkeys(("still", "yet"), "still"),
    **dict.fromkeys(("solved", "sorted", "fixed", "resolved"), "solved"),
    "okay": "ok",
    "deskregion": "deskregion",
    "xcountry": "xcountry",
}
