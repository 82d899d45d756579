"""Writes the demo's small multilingual NER set (PAN-X/WikiANN format) into demo/data/panx/.

The set is synthetic and was written for this project: ten sentence templates per language, translated by
hand into German, French, Spanish, Italian, Dutch, Indonesian and Chinese, filled with person, location and
organisation names. It exists so the demo runs anywhere without downloads; it is far easier than real
WikiANN and says nothing about real-world accuracy. Deterministic: `python demo/make_demo_data.py`.
"""

from __future__ import annotations

import random
from pathlib import Path

TEMPLATES = {
    "en": [
        "{PER} works for {ORG} in {LOC} .",
        "{PER} lives in {LOC} .",
        "{ORG} opened a new office in {LOC} .",
        "Yesterday {PER} met {PER2} in {LOC} .",
        "{PER} moved from {LOC} to {LOC2} last year .",
        "According to {ORG} , prices in {LOC} rose again .",
        "{PER} gave a speech at {ORG} .",
        "The weather in {LOC} was cold and rainy .",
        "Many people visit {LOC} every summer .",
        "{PER} and {PER2} founded {ORG} .",
    ],
    "de": [
        "{PER} arbeitet für {ORG} in {LOC} .",
        "{PER} lebt in {LOC} .",
        "{ORG} eröffnete ein neues Büro in {LOC} .",
        "Gestern traf {PER} {PER2} in {LOC} .",
        "{PER} zog letztes Jahr von {LOC} nach {LOC2} .",
        "Laut {ORG} sind die Preise in {LOC} wieder gestiegen .",
        "{PER} hielt eine Rede bei {ORG} .",
        "Das Wetter in {LOC} war kalt und regnerisch .",
        "Viele Menschen besuchen {LOC} jeden Sommer .",
        "{PER} und {PER2} gründeten {ORG} .",
    ],
    "fr": [
        "{PER} travaille pour {ORG} à {LOC} .",
        "{PER} habite à {LOC} .",
        "{ORG} a ouvert un nouveau bureau à {LOC} .",
        "Hier , {PER} a rencontré {PER2} à {LOC} .",
        "{PER} a déménagé de {LOC} à {LOC2} l' année dernière .",
        "Selon {ORG} , les prix à {LOC} ont encore augmenté .",
        "{PER} a prononcé un discours chez {ORG} .",
        "Le temps à {LOC} était froid et pluvieux .",
        "Beaucoup de gens visitent {LOC} chaque été .",
        "{PER} et {PER2} ont fondé {ORG} .",
    ],
    "es": [
        "{PER} trabaja para {ORG} en {LOC} .",
        "{PER} vive en {LOC} .",
        "{ORG} abrió una nueva oficina en {LOC} .",
        "Ayer {PER} se reunió con {PER2} en {LOC} .",
        "{PER} se mudó de {LOC} a {LOC2} el año pasado .",
        "Según {ORG} , los precios en {LOC} volvieron a subir .",
        "{PER} dio un discurso en {ORG} .",
        "El tiempo en {LOC} fue frío y lluvioso .",
        "Mucha gente visita {LOC} cada verano .",
        "{PER} y {PER2} fundaron {ORG} .",
    ],
    "it": [
        "{PER} lavora per {ORG} a {LOC} .",
        "{PER} vive a {LOC} .",
        "{ORG} ha aperto un nuovo ufficio a {LOC} .",
        "Ieri {PER} ha incontrato {PER2} a {LOC} .",
        "{PER} ha lasciato {LOC} per {LOC2} l' anno scorso .",
        "Secondo {ORG} , i prezzi a {LOC} sono saliti di nuovo .",
        "{PER} ha tenuto un discorso presso {ORG} .",
        "Il tempo a {LOC} era freddo e piovoso .",
        "Molte persone visitano {LOC} ogni estate .",
        "{PER} e {PER2} hanno fondato {ORG} .",
    ],
    "nl": [
        "{PER} werkt voor {ORG} in {LOC} .",
        "{PER} woont in {LOC} .",
        "{ORG} opende een nieuw kantoor in {LOC} .",
        "Gisteren ontmoette {PER} {PER2} in {LOC} .",
        "{PER} verhuisde vorig jaar van {LOC} naar {LOC2} .",
        "Volgens {ORG} zijn de prijzen in {LOC} weer gestegen .",
        "{PER} hield een toespraak bij {ORG} .",
        "Het weer in {LOC} was koud en regenachtig .",
        "Veel mensen bezoeken {LOC} elke zomer .",
        "{PER} en {PER2} richtten {ORG} op .",
    ],
    "id": [
        "{PER} bekerja untuk {ORG} di {LOC} .",
        "{PER} tinggal di {LOC} .",
        "{ORG} membuka kantor baru di {LOC} .",
        "Kemarin {PER} bertemu {PER2} di {LOC} .",
        "{PER} pindah dari {LOC} ke {LOC2} tahun lalu .",
        "Menurut {ORG} , harga di {LOC} naik lagi .",
        "{PER} memberikan pidato di {ORG} .",
        "Cuaca di {LOC} dingin dan hujan .",
        "Banyak orang mengunjungi {LOC} setiap musim panas .",
        "{PER} dan {PER2} mendirikan {ORG} .",
    ],
    "zh": [
        "{PER} 在 {LOC} 为 {ORG} 工作 。",
        "{PER} 住 在 {LOC} 。",
        "{ORG} 在 {LOC} 开设 了 新 办事处 。",
        "昨天 {PER} 在 {LOC} 见 了 {PER2} 。",
        "{PER} 去年 从 {LOC} 搬到 了 {LOC2} 。",
        "据 {ORG} 称 , {LOC} 的 物价 再次 上涨 。",
        "{PER} 在 {ORG} 发表 了 演讲 。",
        "{LOC} 的 天气 又 冷 又 湿 。",
        "每年 夏天 都 有 很多 人 去 {LOC} 旅游 。",
        "{PER} 和 {PER2} 创办 了 {ORG} 。",
    ],
}

PEOPLE = [
    "Angela Merkel", "Marie Curie", "Lionel Messi", "Ada Lovelace", "Nelson Mandela", "Frida Kahlo",
    "Alan Turing", "Serena Williams", "Pablo Picasso", "Greta Thunberg", "Kofi Annan", "Jane Goodall",
    "Albert Einstein", "Simone de Beauvoir", "Ludwig van Beethoven", "Leonardo da Vinci", "Wangari Maathai",
]  # fmt: skip
PEOPLE_ZH = ["王伟", "李娜", "张伟", "刘洋", "陈静", "马云", "姚明", "屠呦呦", "杨利伟", "郎朗"]

# One city per row, in the order en de fr es it nl id zh.
CITIES = [
    ("London", "London", "Londres", "Londres", "Londra", "Londen", "London", "伦敦"),
    ("Munich", "München", "Munich", "Múnich", "Monaco di Baviera", "München", "München", "慕尼黑"),
    ("Paris", "Paris", "Paris", "París", "Parigi", "Parijs", "Paris", "巴黎"),
    ("New York", "New York", "New York", "Nueva York", "New York", "New York", "New York", "纽约"),
    ("Cologne", "Köln", "Cologne", "Colonia", "Colonia", "Keulen", "Köln", "科隆"),
    ("Vienna", "Wien", "Vienne", "Viena", "Vienna", "Wenen", "Wina", "维也纳"),
    ("Rome", "Rom", "Rome", "Roma", "Roma", "Rome", "Roma", "罗马"),
    ("Tokyo", "Tokio", "Tokyo", "Tokio", "Tokyo", "Tokio", "Tokyo", "东京"),
    ("Istanbul", "Istanbul", "Istanbul", "Estambul", "Istanbul", "Istanboel", "Istanbul", "伊斯坦布尔"),
    ("Beijing", "Peking", "Pékin", "Pekín", "Pechino", "Peking", "Beijing", "北京"),
    ("Buenos Aires", "Buenos Aires", "Buenos Aires", "Buenos Aires", "Buenos Aires", "Buenos Aires", "Buenos Aires", "布宜诺斯艾利斯"),
    ("Cape Town", "Kapstadt", "Le Cap", "Ciudad del Cabo", "Città del Capo", "Kaapstad", "Cape Town", "开普敦"),
]  # fmt: skip
LANGUAGES = tuple(TEMPLATES)

ORGANISATIONS = [
    "Siemens",
    "Google",
    "Volkswagen",
    "Real Madrid",
    "Greenpeace",
    "Amnesty International",
    "Airbus",
    "Nokia",
]
LOCAL_ORGANISATIONS = {
    "en": ["Rolls-Royce", "Oxfam", "Microsoft"],
    "de": ["Deutsche Telekom", "Lufthansa", "Bosch"],
    "fr": ["Air France", "Renault", "Médecins Sans Frontières"],
    "es": ["Telefónica", "Banco Santander", "Iberia"],
    "it": ["Fiat", "Juventus", "Ferrari"],
    "nl": ["Philips", "Heineken", "Ajax Amsterdam"],
    "id": ["Garuda Indonesia", "Pertamina", "Bank Mandiri"],
    "zh": ["华为", "阿里巴巴", "中国银行", "联合国"],
}
ENTITY_TYPES = {"PER": "PER", "PER2": "PER", "LOC": "LOC", "LOC2": "LOC", "ORG": "ORG"}
SIZES = {"train": 800, "dev": 150}


def entities(language: str) -> dict[str, list[str]]:
    column = LANGUAGES.index(language)
    organisations = LOCAL_ORGANISATIONS[language] + ([] if language == "zh" else ORGANISATIONS)
    return {
        "PER": PEOPLE_ZH if language == "zh" else PEOPLE,
        "LOC": [row[column] for row in CITIES],
        "ORG": organisations,
    }


def sentence(template: str, names: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str]]:
    tagged = []
    for word in template.split():
        slot = word.strip("{}")
        if word.startswith("{") and slot in ENTITY_TYPES:
            kind = ENTITY_TYPES[slot]
            parts = rng.choice(names[kind]).split()
            tagged += [(part, ("B-" if i == 0 else "I-") + kind) for i, part in enumerate(parts)]
        else:
            tagged.append((word, "O"))
    return tagged


def write_split(path: Path, language: str, count: int, seed: int) -> None:
    rng = random.Random(seed)
    names = entities(language)
    blocks = []
    for _ in range(count):
        tagged = sentence(rng.choice(TEMPLATES[language]), names, rng)
        blocks.append("".join(f"{word}\t{tag}\n" for word, tag in tagged))
    path.write_text("\n".join(blocks), encoding="utf-8")


def main() -> None:
    folder = Path(__file__).resolve().parent / "data" / "panx"
    folder.mkdir(parents=True, exist_ok=True)
    write_split(folder / "train-en.tsv", "en", SIZES["train"], seed=1)
    for offset, language in enumerate(LANGUAGES):
        write_split(folder / f"dev-{language}.tsv", language, SIZES["dev"], seed=100 + offset)


if __name__ == "__main__":
    main()
