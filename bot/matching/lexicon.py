"""The matcher's one word list: words of other languages (and a few spellings) -> the English
word the training examples use.

Data, not logic: candidates write partly in German, Spanish, Portuguese, French or
Hindi-English; the learned model has seen few such messages, so the words that name the
domain's things are folded into English before the model reads them. Accents are stripped
first (see `bot.matching.features`), so "código" and "codigo" are one entry. Extend a line when
a candidate uses a word the model misreads; `triage model train` picks it up.
"""

_SOURCE = """
voucher: gutschein gutscheine gutscheincode cupon cupones coupon coupons vale vales
exam: prufung prufungen pruefung examen exame exames klausur
invitation: einladung einladungen einladungsmail einladungs invitacion invitaciones convite
invitation: convites
result: ergebnis ergebnisse resultado resultados resultat resultats nota notas punkte score
result: scores
certification: zertifizierung zertifikat certificacion certificado certificacao certificat
code: codigo codigos aktionscode promocode
received: angekommen bekommen erhalten llego llegado recibi recibido chegou recebi recebido
received: recu recue mila mili aaya aayi
not: nicht kein keine keinen nie nunca nao jamais nahi nahin
not: isnt doesnt dont wont arent wasnt werent didnt havent hasnt cant couldnt wouldnt
when: wann cuando quando quand kab
where: wo donde onde kahan cade
thanks: danke gracias obrigado obrigada valeu merci shukriya dhanyavad dhanyawad
works: funktioniert funciono funciona funcionou fonctionne
blocked: gesperrt bloqueado bloqueada bloque
country: land pais pays
available: verfugbar disponible disponivel listee listada listado
error: fehler erro erreur
register: anmelden anmeldung registrieren registriert buchen gebucht registrar registro
register: inscribir inscripcion reservar reserve inscrever inscricao marcar inscrire
register: inscription reservee
booked: agendamento agendado
retake: wiederholung wiederholen refazer repetir repasser
use: verwenden benutzen einlosen usar utiliser sirve
valid: gultig valido valide
other: andere anderen anderes otro otra outro outra autre
still: noch todavia aun ainda toujours abhi
please: bitte svp kripya pls plz
help: hilfe helfen ayuda ajuda aide
send: schicken senden enviar mandar envoyer renvoyer bhejo
weeks: wochen semanas semaines hafte
months: monate meses mois mahine
allowed: erlaubt permitido permitida autorise
someone: jemand alguien alguem quelquun koi
"""

SYNONYMS: dict[str, str] = {
    word: english
    for line in _SOURCE.strip().splitlines()
    for english, words in [line.split(":", 1)]
    for word in words.split()
}
