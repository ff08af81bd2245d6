"""Phone screenshots drawn with Pillow and a real CJK font (WenQuanYi Zen Hei), for the OCR tests and
the benchmark (bench/ocr.py): SMS threads and call logs at 1080×2400, light and dark, Chinese and
English, each with the truth it was drawn from.

The layouts follow what the phones show: a status bar, a header with the sender, centred time labels
("昨天 21:14", "星期二 10:32") above bubbles (received on the left, sent on the right, blue), an input
bar; call logs with a title, rows of number or name with a count badge "(3)", a second line (place,
carrier or "mobile"), the time on the right, missed calls in red (MIUI/HyperOS and iOS) or with a
word for the direction (EMUI/ColorOS style, "呼出" / "未接").
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
WIDTH, HEIGHT = 1080, 2400

THEMES = {
    "light": {
        "bg": (255, 255, 255),
        "text": (20, 20, 20),
        "muted": (128, 128, 128),
        "bubble_in": (238, 238, 240),
        "bubble_out": (52, 120, 246),
        "text_out": (255, 255, 255),
        "bar": (246, 246, 246),
        "missed": (230, 45, 45),
    },
    "dark": {
        "bg": (0, 0, 0),
        "text": (236, 236, 236),
        "muted": (150, 150, 150),
        "bubble_in": (44, 44, 46),
        "bubble_out": (40, 100, 220),
        "text_out": (255, 255, 255),
        "bar": (28, 28, 30),
        "missed": (255, 80, 70),
    },
}


def font_available() -> bool:
    return Path(FONT_PATH).exists()


_FONTS: dict[int, ImageFont.FreeTypeFont] = {}


def font(size: int) -> ImageFont.FreeTypeFont:
    if size not in _FONTS:
        _FONTS[size] = ImageFont.truetype(FONT_PATH, size)
    return _FONTS[size]


@dataclass
class Screen:
    image: Image.Image
    kind: str  # "sms" or "calls"
    theme: str
    lang: str
    sender: str = ""
    messages: list[dict] = field(default_factory=list)  # {"label", "body", "sent"}
    # {"who", "count", "when", "missed", "direction", "second"}
    rows: list[dict] = field(default_factory=list)

    def png(self, exif_time: str | None = None) -> bytes:
        buffer = io.BytesIO()
        kwargs = {}
        if exif_time:
            exif = Image.Exif()
            exif.get_ifd(0x8769)[0x9003] = exif_time
            kwargs["exif"] = exif.tobytes()
        self.image.save(buffer, "PNG", **kwargs)
        return buffer.getvalue()


def _wrap(text: str, face, width: int) -> list[str]:
    """Break text into lines no wider than width: CJK at any character, Latin at spaces."""
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        trial = current + token
        if current and face.getlength(trial) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current = trial
    if current.strip():
        lines.append(current.rstrip())
    return lines


def _tokens(text: str) -> list[str]:
    tokens, word = [], ""
    for char in text:
        if char.isascii() and not char.isspace():
            word += char
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(char)
    if word:
        tokens.append(word)
    return tokens


def _status_bar(draw: ImageDraw.ImageDraw, colors: dict, clock: str) -> None:
    draw.text((48, 30), clock, font=font(38), fill=colors["text"])
    draw.text((820, 30), "5G 87%", font=font(36), fill=colors["text"])


def render_sms(
    sender: str, messages: list[dict], *, theme: str = "light", lang: str = "zh", clock: str = "10:32"
) -> Screen:
    """An SMS thread: `messages` are {"label": time label or "", "body": text, "sent": bool}."""
    colors = THEMES[theme]
    image = Image.new("RGB", (WIDTH, HEIGHT), colors["bg"])
    draw = ImageDraw.Draw(image)
    _status_bar(draw, colors, clock)
    # Header: a back chevron, the sender, a thin rule.
    draw.line([(62, 170), (40, 192), (62, 214)], fill=colors["text"], width=5)
    draw.text((110, 160), sender, font=font(54), fill=colors["text"])
    draw.line([(0, 270), (WIDTH, 270)], fill=colors["bar"], width=3)
    y = 320
    body_face = font(46)
    shown = []
    for message in messages:
        if message.get("label"):
            face = font(34)
            width = face.getlength(message["label"])
            draw.text(((WIDTH - width) / 2, y), message["label"], font=face, fill=colors["muted"])
            y += 80
        lines = _wrap(message["body"], body_face, 760)
        line_height = 64
        bubble_w = max(body_face.getlength(line) for line in lines) + 72
        bubble_h = line_height * len(lines) + 44
        if y + bubble_h > HEIGHT - 260:
            break
        left = WIDTH - 48 - bubble_w if message.get("sent") else 48
        fill = colors["bubble_out"] if message.get("sent") else colors["bubble_in"]
        draw.rounded_rectangle([left, y, left + bubble_w, y + bubble_h], radius=40, fill=fill)
        ink = colors["text_out"] if message.get("sent") else colors["text"]
        for index, line in enumerate(lines):
            draw.text((left + 36, y + 22 + index * line_height), line, font=body_face, fill=ink)
        y += bubble_h + 40
        shown.append(message)
    # The input bar at the bottom.
    draw.rounded_rectangle([40, HEIGHT - 190, WIDTH - 40, HEIGHT - 80], radius=55, fill=colors["bar"])
    placeholder = "短信" if lang == "zh" else "Text message"
    draw.text((90, HEIGHT - 160), placeholder, font=font(40), fill=colors["muted"])
    return Screen(image, "sms", theme, lang, sender=sender, messages=shown)


def render_call_log(
    rows: list[dict], *, theme: str = "light", lang: str = "zh", style: str = "miui", clock: str = "10:32"
) -> Screen:
    """A call log: `rows` are {"who", "count", "when", "missed", "direction", "second"}. Styles:
    "miui" and "ios" show missed calls in red; "emui" writes the direction ("呼出", "未接") as a word."""
    colors = THEMES[theme]
    image = Image.new("RGB", (WIDTH, HEIGHT), colors["bg"])
    draw = ImageDraw.Draw(image)
    _status_bar(draw, colors, clock)
    title = {"zh": "通话记录", "en": "Recents"}[lang]
    draw.text((60, 150), title, font=font(72), fill=colors["text"])
    y = 290
    shown = []
    row_height = 186
    for row in rows:
        if y + row_height > HEIGHT - 180:
            break
        missed = row.get("missed") and style in ("miui", "ios")
        ink = colors["missed"] if missed else colors["text"]
        main = row["who"] + (f" ({row['count']})" if row.get("count", 1) > 1 else "")
        draw.text((130, y + 30), main, font=font(50), fill=ink)
        second = row.get("second", "")
        if style == "emui" and row.get("direction_word"):
            second = f"{row['direction_word']}  {second}".strip()
        if second:
            draw.text((130, y + 104), second, font=font(36), fill=colors["muted"])
        when_face = font(38)
        draw.text(
            (WIDTH - 150 - when_face.getlength(row["when"]), y + 62),
            row["when"],
            font=when_face,
            fill=colors["muted"],
        )
        # The (i) button on the right and a phone glyph on the left: drawn shapes, never text.
        draw.ellipse([WIDTH - 110, y + 58, WIDTH - 62, y + 106], outline=colors["bubble_out"], width=4)
        draw.ellipse([52, y + 62, 92, y + 102], outline=colors["muted"], width=4)
        draw.line([(24, y + row_height - 2), (WIDTH, y + row_height - 2)], fill=colors["bar"], width=2)
        y += row_height
        shown.append(row)
    return Screen(image, "calls", theme, lang, rows=shown)


# --- random content, for the benchmark and the tests -----------------------------------------------

ZH_BODIES = [
    "【催收通知】您在花呗的欠款已逾期32天，请于今日18点前还款2356.80元，否则将上报征信并联系您的家人和单位。",
    "你再不还钱，我们就去你家里找你，后果自负。",
    "您好，这里是某某律师事务所，您的借款纠纷已立案，法院传票将于三日内送达，请尽快处理。",
    "你这个老赖，欠钱不还，全村人都会知道你是什么人。",
    "尊敬的客户，您的借呗账单本期应还1280.00元，最后还款日为3月20日，请按时还款。",
    "我们已经联系了你的紧急联系人，如果今天还不处理，明天上门外访。",
    "警方已介入调查，请立即拨打4008123456配合处理，逾期将被列入失信名单。",
    "好的，我知道了，请不要再打电话给我的家人。",
    "您的验证码是482913，5分钟内有效，请勿泄露给他人。",
    "最后通牒：今晚12点前不还清，我们会把你的资料发到你所有的通讯录好友。",
]
EN_BODIES = [
    "Final notice: your account is 45 days past due. Pay $1,250.00 today or we will contact your employer.",
    "If you do not pay by Friday we will come to your house and talk to your family.",
    "This is the legal department. A lawsuit has been filed against you and a warrant will be issued.",
    "Your payment of $89.50 was received. Thank you.",
    "We know where you work. Call us back at 800-555-0199 immediately.",
    "Please stop calling my parents, I will pay next week.",
]
# Oldest first, as a thread shows them; read against a screenshot taken on a Friday at 10:32.
ZH_LABELS = ["3月15日 14:20", "星期二 10:32", "昨天 21:14", "凌晨 1:05", "上午 9:05", "10:05"]
EN_LABELS = ["Mar 15 2:20 PM", "Tue 10:32 AM", "Yesterday 9:14 PM", "9:05 AM", "10:05 AM"]
# Newest first, as call logs show them.
ZH_WHEN = [
    "10:32",
    "09:15",
    "昨天 21:14",
    "昨天 08:02",
    "星期二 22:47",
    "星期一 13:05",
    "3月12日 20:11",
    "03-10 07:58",
]
EN_WHEN = ["10:32 AM", "9:15 AM", "Yesterday 9:14 PM", "Tue 10:47 PM", "Mon 1:05 PM", "3/12/24 8:11 PM"]
ZH_SECOND = ["广东深圳 移动", "北京 联通", "浙江杭州 电信", "上海 移动", "手机", "未知"]
EN_SECOND = ["mobile", "Chicago, IL", "unknown", "New York, NY", "home"]
ZH_NAMES = ["张经理", "催收专员王", "花呗客服", "李律师"]
EN_NAMES = ["Collections Dept", "Mike Johnson", "ABC Recovery"]


def random_number(rng: random.Random, lang: str) -> str:
    if lang == "en":
        return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    style = rng.random()
    digits = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"
    if style < 0.5:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if style < 0.7:
        return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
    if style < 0.85:
        return f"95{rng.randint(100, 999)}"
    return f"1069{rng.randint(10000000, 99999999)}"


def random_sms(rng: random.Random, *, theme: str, lang: str) -> Screen:
    bodies = ZH_BODIES if lang == "zh" else EN_BODIES
    labels = ZH_LABELS if lang == "zh" else EN_LABELS
    count = rng.randint(2, 4)
    chosen = [labels[i] for i in sorted(rng.sample(range(len(labels)), count))]
    messages = [
        {"label": label, "body": rng.choice(bodies), "sent": rng.random() < 0.2 and i > 0}
        for i, label in enumerate(chosen)
    ]
    return render_sms(random_number(rng, lang), messages, theme=theme, lang=lang)


def random_calls(rng: random.Random, *, theme: str, lang: str, style: str, rows: int = 10) -> Screen:
    whens = ZH_WHEN if lang == "zh" else EN_WHEN
    seconds = ZH_SECOND if lang == "zh" else EN_SECOND
    names = ZH_NAMES if lang == "zh" else EN_NAMES
    drawn = []
    times = sorted(rng.choices(range(len(whens)), k=rows))
    for position in times:
        missed = rng.random() < 0.4
        outgoing = not missed and rng.random() < 0.3
        drawn.append(
            {
                "who": rng.choice(names) if rng.random() < 0.15 else random_number(rng, lang),
                "count": rng.choice([1, 1, 1, 2, 3, 5]),
                "when": whens[position],
                "missed": missed,
                "direction": "missed" if missed else ("outgoing" if outgoing else "incoming"),
                "direction_word": ("未接" if missed else ("呼出" if outgoing else "呼入"))
                if lang == "zh"
                else ("Missed" if missed else ("Outgoing" if outgoing else "Incoming")),
                "second": rng.choice(seconds),
            }
        )
    return render_call_log(drawn, theme=theme, lang=lang, style=style)


def benchmark_set(count: int = 32, seed: int = 15) -> list[Screen]:
    """`count` screenshots, half SMS threads and half call logs, across themes, languages and styles."""
    rng = random.Random(seed)
    screens = []
    for index in range(count):
        theme = ("light", "dark")[(index // 2) % 2]
        lang = ("zh", "zh", "en")[(index // 2) % 3]
        if index % 2 == 0:
            screens.append(random_sms(rng, theme=theme, lang=lang))
        else:
            style = ("miui", "ios", "emui")[(index // 2) % 3]
            screens.append(random_calls(rng, theme=theme, lang=lang, style=style))
    return screens
