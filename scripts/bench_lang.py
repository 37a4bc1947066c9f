"""Language identification, side by side: pycld2 (what broadsheet uses) and py3langid.

    pip install py3langid
    python scripts/bench_lang.py

Accuracy on one-sentence samples in 14 languages, and documents/s on 6 KB
English articles (the seed article, doubled), whole and as a 1,000-character prefix.
"""

from __future__ import annotations

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


def main() -> None:
    article = (SEED.read_text(encoding="utf-8").split("\n-\n")[0] * 2)[:6000]
    print(f"{'detector':<11}{'correct':>9}{'6 KB docs/s':>13}{'1,000-char docs/s':>19}")
    for name, func in detectors().items():
        correct = sum(func(text) == lang for lang, text in SAMPLES.items())
        print(
            f"{name:<11}{f'{correct}/{len(SAMPLES)}':>9}{rate(func, article):>13,.0f}"
            f"{rate(func, article[:1000]):>19,.0f}"
        )


if __name__ == "__main__":
    main()
