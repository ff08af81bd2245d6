"""Phone screenshots drawn with Pillow and a real CJK font (WenQuanYi Zen Hei), for the OCR tests and
the benchmark (bench/ocr.py): SMS threads and call logs at 1080×2400, light and dark, Chinese and
English, each with the truth it was drawn from.

The layouts follow what the phones show: a status bar, a header with the sender, centred time labels
("昨天 21:14", "星期二 10:32") above bubbles (received on the left, sent on the right, blue), an input
bar; call logs with a title, rows of number or name with a count badge "(3)", a second line (place,
carrier or "mobile"), the time on the right, missed calls in red (MIUI/HyperOS and iOS) or with a
word for the direction (EMUI/ColorOS style, "呼出" / "未接").

Issue 27 adds call logs of saved contacts (name over number, direction and duration beside the
time), chats (avatars beside the bubbles), other screens (a lender's bill), photos of a screen and
tall scrolling screenshots: realistic_set() is the benchmark's set (bench/ocr.py).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

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
    kind: str  # "sms", "calls", "chat" or "other"
    theme: str
    lang: str
    sender: str = ""
    messages: list[dict] = field(default_factory=list)  # {"label", "body", "sent"}
    # {"who", "count", "when", "missed", "direction", "second"}, optionally "number" and "duration"
    rows: list[dict] = field(default_factory=list)
    variant: str = "screenshot"  # or "photo" (a camera's picture of a screen), "tall"
    style: str = ""  # a call log's: "miui", "ios", "emui", "contacts"

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
    sender: str,
    messages: list[dict],
    *,
    theme: str = "light",
    lang: str = "zh",
    clock: str = "10:32",
    height: int = HEIGHT,
) -> Screen:
    """An SMS thread: `messages` are {"label": time label or "", "body": text, "sent": bool}. A
    `height` above 2400 draws a scrolling (long) screenshot, as MIUI and EMUI stitch them."""
    colors = THEMES[theme]
    image = Image.new("RGB", (WIDTH, height), colors["bg"])
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
        if y + bubble_h > height - 260:
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
    draw.rounded_rectangle([40, height - 190, WIDTH - 40, height - 80], radius=55, fill=colors["bar"])
    placeholder = "短信" if lang == "zh" else "Text message"
    draw.text((90, height - 160), placeholder, font=font(40), fill=colors["muted"])
    return Screen(image, "sms", theme, lang, sender=sender, messages=shown)


def render_call_log(
    rows: list[dict], *, theme: str = "light", lang: str = "zh", style: str = "miui", clock: str = "10:32"
) -> Screen:
    """A call log: `rows` are {"who", "count", "when", "missed", "direction", "second"}, optionally
    "number" (shown under a contact's name) and "duration" (seconds). Styles: "miui" and "ios" show
    missed calls in red; "emui" writes the direction ("呼出", "未接") and the duration ("呼入 3分12秒")
    as the second line; "contacts" (HarmonyOS / MagicOS with saved contacts) shows the name over the
    number and, under the time, the direction and the duration."""
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
            second = f"{row['direction_word']} {duration_text(row, lang)}  {second}".strip()
        if style == "contacts" and row.get("number"):
            second = row["number"]
        if second:
            draw.text((130, y + 104), second, font=font(36), fill=colors["muted"])
        when_face = font(38)
        when_y = y + 30 if style == "contacts" else y + 62
        draw.text(
            (WIDTH - 150 - when_face.getlength(row["when"]), when_y),
            row["when"],
            font=when_face,
            fill=colors["muted"],
        )
        if style == "contacts":
            beside = f"{row['direction_word']} {duration_text(row, lang)}".strip()
            small = font(34)
            draw.text(
                (WIDTH - 150 - small.getlength(beside), y + 106), beside, font=small, fill=colors["muted"]
            )
        # The (i) button on the right and a phone glyph on the left: drawn shapes, never text.
        draw.ellipse([WIDTH - 110, y + 58, WIDTH - 62, y + 106], outline=colors["bubble_out"], width=4)
        draw.ellipse([52, y + 62, 92, y + 102], outline=colors["muted"], width=4)
        draw.line([(24, y + row_height - 2), (WIDTH, y + row_height - 2)], fill=colors["bar"], width=2)
        y += row_height
        shown.append(row)
    return Screen(image, "calls", theme, lang, rows=shown, style=style)


def duration_text(row: dict, lang: str) -> str:
    """How a call log writes a duration: "3分12秒", "45秒", "1小时2分" / "3m 12s"; nothing for a
    missed call."""
    seconds = row.get("duration")
    if not seconds or row.get("direction") in ("missed", "rejected"):
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if lang == "en":
        parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
        return " ".join(part for part in parts if part)
    parts = [f"{hours}小时" if hours else "", f"{minutes}分" if minutes else "", f"{secs}秒" if secs else ""]
    return "".join(parts)


def render_chat(title: str, messages: list[dict], *, theme: str = "light") -> Screen:
    """A chat app's conversation (WeChat / QQ style): the title centred, an avatar beside every
    bubble (received on the left, sent on the right in green), centred time labels, a bottom bar of
    icons. `messages` as for render_sms."""
    colors = THEMES[theme]
    image = Image.new("RGB", (WIDTH, HEIGHT), colors["bar"])
    draw = ImageDraw.Draw(image)
    _status_bar(draw, colors, "10:32")
    face = font(52)
    draw.text(((WIDTH - face.getlength(title)) / 2, 160), title, font=face, fill=colors["text"])
    draw.line([(62, 170), (40, 192), (62, 214)], fill=colors["text"], width=5)
    for dot in range(3):
        draw.ellipse([960 + dot * 28, 186, 976 + dot * 28, 202], fill=colors["text"])
    y = 320
    body_face = font(46)
    shown = []
    for message in messages:
        if message.get("label"):
            small = font(34)
            width = small.getlength(message["label"])
            draw.text(((WIDTH - width) / 2, y), message["label"], font=small, fill=colors["muted"])
            y += 80
        lines = _wrap(message["body"], body_face, 660)
        bubble_w = max(body_face.getlength(line) for line in lines) + 64
        bubble_h = 64 * len(lines) + 40
        if y + bubble_h > HEIGHT - 220:
            break
        sent = bool(message.get("sent"))
        avatar = [WIDTH - 140, y, WIDTH - 36, y + 104] if sent else [36, y, 140, y + 104]
        draw.rounded_rectangle(avatar, radius=12, fill=(90, 140, 200) if sent else (220, 150, 60))
        left = WIDTH - 164 - bubble_w if sent else 164
        fill = (149, 236, 105) if sent else colors["bg"]
        draw.rounded_rectangle([left, y, left + bubble_w, y + bubble_h], radius=14, fill=fill)
        ink = (20, 20, 20) if sent else colors["text"]
        for index, line in enumerate(lines):
            draw.text((left + 32, y + 20 + index * 64), line, font=body_face, fill=ink)
        y += max(bubble_h, 104) + 44
        shown.append(message)
    # The bottom bar: a voice button, the input field, an emoji and a plus, all drawn shapes.
    draw.rectangle([0, HEIGHT - 170, WIDTH, HEIGHT], fill=colors["bg"])
    draw.ellipse([30, HEIGHT - 140, 110, HEIGHT - 60], outline=colors["text"], width=4)
    draw.rounded_rectangle([140, HEIGHT - 145, WIDTH - 220, HEIGHT - 55], radius=12, fill=colors["bar"])
    draw.ellipse([WIDTH - 200, HEIGHT - 140, WIDTH - 120, HEIGHT - 60], outline=colors["text"], width=4)
    draw.ellipse([WIDTH - 100, HEIGHT - 140, WIDTH - 20, HEIGHT - 60], outline=colors["text"], width=4)
    return Screen(image, "chat", theme, "zh", sender=title, messages=shown)


def render_other(rows: list[tuple[str, str]], *, title: str = "账单详情", theme: str = "light") -> Screen:
    """A screen that is neither messages nor a call log: a lender app's bill, label on the left and
    value on the right (some values are dates, as a call log's times are)."""
    colors = THEMES[theme]
    image = Image.new("RGB", (WIDTH, HEIGHT), colors["bg"])
    draw = ImageDraw.Draw(image)
    _status_bar(draw, colors, "10:32")
    draw.text((60, 150), title, font=font(64), fill=colors["text"])
    draw.text((60, 300), "应还金额（元）", font=font(38), fill=colors["muted"])
    draw.text((60, 360), "2,356.80", font=font(96), fill=colors["text"])
    y = 560
    face = font(42)
    for label, value in rows:
        draw.text((60, y), label, font=face, fill=colors["muted"])
        draw.text((WIDTH - 60 - face.getlength(value), y), value, font=face, fill=colors["text"])
        draw.line([(60, y + 90), (WIDTH - 60, y + 90)], fill=colors["bar"], width=2)
        y += 130
    draw.rounded_rectangle([60, HEIGHT - 260, WIDTH - 60, HEIGHT - 140], radius=60, fill=colors["bubble_out"])
    draw.text((WIDTH / 2 - 80, HEIGHT - 228), "立即还款", font=font(46), fill=colors["text_out"])
    return Screen(image, "other", theme, "zh")


def photograph(screen: Screen, *, seed: int = 0) -> Screen:
    """The screen as a phone camera sees another phone's screen: a little larger than the screen, a
    slight tilt and perspective, soft focus, uneven light, sensor noise and JPEG compression."""
    rng = random.Random(seed)
    source = screen.image
    margin_x, margin_y = 60, 120
    canvas = Image.new("RGB", (source.width + 2 * margin_x, source.height + 2 * margin_y), (24, 24, 26))
    canvas.paste(source, (margin_x, margin_y))
    tilt = rng.uniform(-1.2, 1.2)
    canvas = canvas.rotate(tilt, resample=Image.Resampling.BICUBIC, fillcolor=(24, 24, 26))
    # Perspective: the top edge a little narrower than the bottom, as a phone held below the screen.
    w, h = canvas.size
    squeeze = rng.uniform(0.01, 0.025) * w
    coeffs = _perspective_coefficients(
        [(0, 0), (w, 0), (w, h), (0, h)], [(squeeze, 0), (w - squeeze, 0), (w, h), (0, h)]
    )
    canvas = canvas.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    canvas = canvas.filter(ImageFilter.GaussianBlur(radius=1.1))
    pixels = np.asarray(canvas).astype(np.float32)
    light = np.linspace(1.05, 0.82, h, dtype=np.float32)[:, None, None]
    noise = np.random.default_rng(seed).normal(0, 6, pixels.shape).astype(np.float32)
    pixels = np.clip(pixels * light + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=72)
    buffer.seek(0)
    photo = Image.open(buffer).convert("RGB")
    return Screen(
        photo,
        screen.kind,
        screen.theme,
        screen.lang,
        sender=screen.sender,
        messages=screen.messages,
        rows=screen.rows,
        variant="photo",
        style=screen.style,
    )


def _perspective_coefficients(target, source) -> list[float]:
    """PIL's perspective transform maps output points to input points: the 8 coefficients."""
    matrix = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solved = np.linalg.solve(np.array(matrix, dtype=np.float64), np.array(source, dtype=np.float64).ravel())
    return solved.tolist()


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
    "您的分期账单已逾期，客服将于下午三点致电核实，请保持电话畅通。",
    "我现在没有能力一次还清，能不能协商分期？",
    "通知：您的逾期信息已报送至催收部门，今后将由外访组联系您。",
    "你单位的电话我们已经拿到了，明天直接打给你们领导。",
    "请提供你的还款计划，否则我们将按合同约定收取违约金。",
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
                "duration": None if missed else rng.choice(ZH_DURATIONS[1:]),
            }
        )
    return render_call_log(drawn, theme=theme, lang=lang, style=style)


ZH_DURATIONS = [0, 8, 45, 192, 75, 610, 3725]


def random_contacts_log(rng: random.Random, *, theme: str, rows: int = 9) -> Screen:
    """A call log of saved contacts (HarmonyOS / MagicOS): names over numbers, direction and
    duration beside the time; a few rows of unsaved numbers."""
    drawn = []
    for position in sorted(rng.choices(range(len(ZH_WHEN)), k=rows)):
        missed = rng.random() < 0.35
        outgoing = not missed and rng.random() < 0.3
        direction = "missed" if missed else ("outgoing" if outgoing else "incoming")
        number = random_number(rng, "zh")
        named = rng.random() < 0.7
        drawn.append(
            {
                "who": rng.choice(ZH_NAMES) if named else number,
                "number": number if named else "",
                "count": 1,
                "when": ZH_WHEN[position],
                "missed": missed,
                "direction": direction,
                "direction_word": {"missed": "未接", "outgoing": "呼出", "incoming": "呼入"}[direction],
                "duration": None if missed else rng.choice(ZH_DURATIONS[1:]),
                "second": "" if named else rng.choice(ZH_SECOND),
            }
        )
    return render_call_log(drawn, theme=theme, lang="zh", style="contacts")


# A scrolling screenshot's labels, oldest first, read against a screenshot taken on Friday
# 2024-03-22 at 10:32.
TALL_LABELS = [
    "3月8日 09:12",
    "3月8日 21:40",
    "3月9日 08:05",
    "3月11日 13:30",
    "3月12日 19:02",
    "3月13日 07:45",
    "3月14日 22:18",
    "3月15日 14:20",
    "3月16日 10:10",
    "3月17日 23:05",
    "星期一 09:30",
    "星期二 10:32",
    "昨天 21:14",
    "10:05",
]


def tall_sms(rng: random.Random, *, theme: str = "light", height: int = 12000) -> Screen:
    """A scrolling screenshot of a long SMS thread (1080×12000): 14 messages, each body once."""
    bodies = rng.sample(ZH_BODIES, len(TALL_LABELS))
    messages = [
        {"label": label, "body": body, "sent": body.startswith(("我现在", "好的"))}
        for label, body in zip(TALL_LABELS, bodies, strict=True)
    ]
    screen = render_sms(random_number(rng, "zh"), messages, theme=theme, height=height)
    screen.variant = "tall"
    return screen


def random_chat(rng: random.Random, *, theme: str) -> Screen:
    count = rng.randint(3, 4)
    chosen = [ZH_LABELS[i] for i in sorted(rng.sample(range(len(ZH_LABELS)), count))]
    messages = [
        {"label": label, "body": rng.choice(ZH_BODIES), "sent": rng.random() < 0.25 and i > 0}
        for i, label in enumerate(chosen)
    ]
    return render_chat(rng.choice(ZH_NAMES), messages, theme=theme)


def random_other(rng: random.Random, *, theme: str) -> Screen:
    rows = [
        ("借款编号", f"JK{rng.randint(10**9, 10**10 - 1)}"),
        ("借款日期", "2023-11-20"),
        ("到期日", "03-20 23:59"),
        ("逾期天数", f"{rng.randint(3, 90)}天"),
        ("罚息", f"{rng.randint(10, 300)}.{rng.randint(0, 99):02d}"),
        ("客服电话", "95188"),
    ]
    return render_other(rows, theme=theme)


def realistic_set(seed: int = 27) -> list[Screen]:
    """The benchmark's realistic screens (issue 27): SMS threads, call logs with and without contact
    names (two-row logs among them), chats, other screens, dark mode, photos of a screen and a tall
    scrolling screenshot, each with the truth it was drawn from."""
    rng = random.Random(seed)
    screens = []
    for index in range(8):
        theme = ("light", "dark")[index % 2]
        screens.append(random_sms(rng, theme=theme, lang=("zh", "zh", "en")[index % 3]))
    for index, style in enumerate(("miui", "ios", "emui", "miui", "emui", "ios")):
        lang = "en" if style == "ios" and index > 2 else "zh"
        screens.append(random_calls(rng, theme=("light", "dark")[index % 2], lang=lang, style=style))
    for index in range(4):
        screens.append(random_contacts_log(rng, theme=("light", "dark")[index % 2]))
    screens.append(random_calls(rng, theme="light", lang="zh", style="miui", rows=2))
    screens.append(random_calls(rng, theme="dark", lang="zh", style="emui", rows=2))
    screens.append(random_chat(rng, theme="light"))
    screens.append(random_chat(rng, theme="dark"))
    screens.append(random_other(rng, theme="light"))
    screens.append(random_other(rng, theme="dark"))
    screens.append(photograph(random_sms(rng, theme="light", lang="zh"), seed=1))
    screens.append(photograph(random_calls(rng, theme="light", lang="zh", style="miui"), seed=2))
    screens.append(tall_sms(rng))
    return screens


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
