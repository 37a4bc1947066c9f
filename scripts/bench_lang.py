"""Language identification, side by side: pycld2 (what broadsheet uses) and py3langid; and CLD2's prefix length.

    pip install py3langid faker
    python scripts/bench_lang.py [--prefixes 250,500,1000,2000] [--docs 40]

Accuracy on one-sentence samples in 14 languages, and documents/s on 6 KB
English articles (the seed article, doubled), whole and as a 1,000-character prefix.

Then, for each prefix length ``normalize.lang_prefix_chars`` could take, CLD2's
accuracy and cost on articles in 21 languages, short (a headline and two
sentences) and long (a headline and paragraphs to 6 KB): their words are the
common words of each language that Faker's lorem provider draws from (seeded),
in random order, so what is measured is the detector on each language's words,
not on grammar.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "corpus" / "raw" / "000_812283e286aaf8e1.txt"
SAMPLES = {
    "en": "The government announced new measures on Tuesday to curb rising energy prices across the country.",
    "de": "Die Regierung kündigte am Dienstag neue Maßnahmen an, um die steigenden Energiepreise im ganzen Land zu bremsen.",
    "fr": "Le gouvernement a annoncé mardi de nouvelles mesures pour freiner la hausse des prix de l'énergie dans tout le pays.",
    "es": "El gobierno anunció el martes nuevas medidas para frenar el aumento de los precios de la energía en todo el país.",
    "it": "Il governo ha annunciato martedì nuove misure per frenare l'aumento dei prezzi dell'energia in tutto il paese.",
    "pt": "O governo anunciou na terça-feira novas medidas para conter a alta dos preços da energia em todo o país.",
    "nl": "De regering kondigde dinsdag nieuwe maatregelen aan om de stijgende energieprijzen in het hele land af te remmen.",
    "ru": "Правительство во вторник объявило о новых мерах по сдерживанию роста цен на энергию по всей стране.",
    "pl": "Rząd ogłosił we wtorek nowe środki mające na celu powstrzymanie wzrostu cen energii w całym kraju.",
    "ja": "政府は火曜日、国内全体のエネルギー価格の上昇を抑えるための新たな措置を発表した。",
    "zh": "政府周二宣布了新的措施，以遏制全国能源价格的上涨。",
    "ar": "أعلنت الحكومة يوم الثلاثاء عن إجراءات جديدة للحد من ارتفاع أسعار الطاقة في جميع أنحاء البلاد.",
    "tr": "Hükümet salı günü ülke genelinde yükselen enerji fiyatlarını frenlemek için yeni önlemler açıkladı.",
    "sv": "Regeringen tillkännagav på tisdagen nya åtgärder för att bromsa de stigande energipriserna i hela landet.",
}


def detectors() -> dict:
    from broadsheet.text.lang import detect

    found = {"pycld2": lambda text: detect(text, len(text))[0]}
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        found["py3langid"] = lambda text: identifier.classify(text)[0]
    except ImportError:
        print("py3langid not installed: pip install py3langid")
    return found


def rate(func, text: str, seconds: float = 1.0) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        func(text)
        n += 1
    return n / (time.perf_counter() - start)


LOCALES = {  # Faker's locale: the code CLD2 gives its language
    "ar_AA": "ar", "az_AZ": "az", "bn_BD": "bn", "cs_CZ": "cs", "da_DK": "da", "de_DE": "de", "el_GR": "el",
    "en_US": "en", "es_ES": "es", "fa_IR": "fa", "fr_FR": "fr", "hy_AM": "hy", "it_IT": "it",
    "ja_JP": "ja", "nl_NL": "nl", "pl_PL": "pl", "ru_RU": "ru", "th_TH": "th", "uk_UA": "uk", "vi_VN": "vi",
    "zh_CN": "zh",
}  # fmt: skip


def articles(docs: int, long: bool) -> list[tuple[str, str]]:
    """``docs`` articles per language, as (expected code, the text detect() is given: headline, newline, body)."""
    from faker import Faker

    found = []
    for locale, code in LOCALES.items():
        fake = Faker(locale)
        fake.seed_instance(1)
        rng = random.Random(locale)
        for _ in range(docs):
            title = fake.sentence(nb_words=rng.randint(6, 12))
            body = [" ".join(fake.sentences(2))]
            while long and sum(map(len, body)) < 6000:
                body.append(" ".join(fake.sentences(rng.randint(2, 6))))
            found.append((code, f"{title}\n" + "\n\n".join(body)))
    return found


def prefix_study(prefixes: list[int], docs: int) -> None:
    """CLD2's accuracy and cost at each prefix length (0: the whole text), on short and long articles."""
    from broadsheet.text.lang import detect

    print(f"\nCLD2 by prefix length, {docs} articles in each of {len(LOCALES)} languages")
    print(f"{'prefix':>8}{'short correct':>15}{'long correct':>14}{'unreliable':>12}{'long us/doc':>13}")
    short, long = articles(docs, long=False), articles(docs, long=True)
    for prefix in prefixes:
        size = prefix or 1 << 30
        found = [[detect(text, size) for _, text in texts] for texts in (short, long)]
        right = [sum(f[0] == code for f, (code, _) in zip(*pair)) / len(pair[1]) for pair in zip(found, (short, long))]
        unreliable = sum("lang_unreliable" in f[2] for f in found[0] + found[1]) / (len(short) + len(long))
        start = time.perf_counter()
        for _, text in long:
            detect(text, size)
        cost = (time.perf_counter() - start) / len(long) * 1e6
        print(f"{prefix or 'whole':>8}{right[0]:>15.3f}{right[1]:>14.3f}{unreliable:>12.3f}{cost:>13.1f}")
    wrong = {}
    for prefix in prefixes:
        for code, text in short + long:
            found = detect(text, prefix or 1 << 30)[0]
            if found != code:
                wrong.setdefault(prefix, {}).setdefault(f"{code}->{found}", 0)
                wrong[prefix][f"{code}->{found}"] += 1
    for prefix, mistakes in wrong.items():
        print(f"  mistakes at {prefix or 'whole'}: {dict(sorted(mistakes.items(), key=lambda kv: -kv[1]))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefixes", default="250,500,1000,2000,0", help="prefix lengths to compare (0: whole)")
    parser.add_argument("--docs", type=int, default=40, help="articles per language and length")
    args = parser.parse_args()
    article = (SEED.read_text(encoding="utf-8").split("\n-\n")[0] * 2)[:6000]
    print(f"{'detector':<11}{'correct':>9}{'6 KB docs/s':>13}{'1,000-char docs/s':>19}")
    for name, func in detectors().items():
        correct = sum(func(text) == lang for lang, text in SAMPLES.items())
        print(
            f"{name:<11}{f'{correct}/{len(SAMPLES)}':>9}{rate(func, article):>13,.0f}"
            f"{rate(func, article[:1000]):>19,.0f}"
        )
    try:
        prefix_study([int(p) for p in args.prefixes.split(",")], args.docs)
    except ImportError:
        print("faker not installed (pip install faker): no prefix study")


if __name__ == "__main__":
    main()
