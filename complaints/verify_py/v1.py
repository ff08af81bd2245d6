#!/usr/bin/env python3
"""Check this evidence bundle without the issuing website: `python3 verify.py` in the unzipped folder.

Python 3 standard library only, no network. It prints one line per check, in Chinese and English, and
exits 0 only when every check passes (1 otherwise, naming each problem). What it checks:
  1. manifest.json: its SHA-256 is the seal; the same seal is in dossier.pdf (its metadata and the
     description of its attachment), and the manifest attached inside dossier.pdf is this one;
  2. every file the sealed manifest lists (evidence, calls.csv, summary.txt, this verify.py, the
     timestamp files sealed at issue) is present with exactly its sealed SHA-256; no other file;
  3. every line of SHA256SUMS agrees with the sealed manifest (SHA256SUMS itself is not sealed);
  4. each trusted timestamp: the file leads to its Merkle root through its proof, the root is the
     one in the token, and the token is the one sealed. The TSA's signature on the token and the
     PDF's own signature need other tools: the exact commands are printed.
What a timestamp proves: that the file existed at that moment, not when the event it shows happened.
This file was written by the issuing server and is itself listed, with its SHA-256, in the sealed
manifest: `sha256sum verify.py` must equal the value under "bundle" → "files" → "verify.py".
"""

import base64
import hashlib
import json
import os
import re
import sys
import zlib

UNSEALED = {"manifest.json", "dossier.pdf", "SHA256SUMS", "VERIFY.txt"}
results = []


def report(ok, zh, en):
    results.append(ok)
    print(("OK    " if ok else "FAIL  ") + zh + " / " + en)


def note(zh, en):
    print("NOTE  " + zh + " / " + en)


# Files a bundle of an older dossier (its manifest has no "bundle" section) carries unsealed.
LEGACY_UNSEALED = {"calls.csv", "summary.txt", "verify.py"}


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_files():
    found = []
    for folder, _dirs, names in os.walk("."):
        for name in names:
            path = os.path.relpath(os.path.join(folder, name), ".").replace(os.sep, "/")
            found.append(path)
    return sorted(found)


def pdf_streams(data):
    """The decoded bytes of each stream in the PDF (Flate and ASCII85, as this server writes)."""
    for match in re.finditer(rb"stream\r?\n", data):
        if data[max(0, match.start() - 3) : match.start()] == b"end":
            continue
        before = data[max(0, match.start() - 4000) : match.start()]
        header, start = before[before.rfind(b" obj") + 1 :], match.end()
        end = data.find(b"endstream", start)
        if end < 0:
            continue
        raw = data[start:end].rstrip(b"\r\n")
        filters = re.findall(rb"/(ASCII85Decode|FlateDecode|A85|Fl)\b", header)
        try:
            for name in filters:
                if name in (b"ASCII85Decode", b"A85"):
                    raw = base64.a85decode(raw.strip(), adobe=raw.strip().startswith(b"<~"))
                else:
                    raw = zlib.decompressobj().decompress(raw)
        except (ValueError, zlib.error):
            continue
        yield header, raw


def check_manifest_and_pdf():
    if not os.path.isfile("manifest.json"):
        report(False, "缺少 manifest.json", "manifest.json is missing")
        return None, None
    data = open("manifest.json", "rb").read()
    seal = hashlib.sha256(data).hexdigest()
    print("封印 / seal: " + seal)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError:
        report(False, "manifest.json 不是有效的 JSON", "manifest.json is not valid JSON")
        return None, seal
    if not os.path.isfile("dossier.pdf"):
        report(False, "缺少 dossier.pdf", "dossier.pdf is missing")
        return manifest, seal
    pdf = open("dossier.pdf", "rb").read()
    ranges = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    if not ranges:
        report(False, "dossier.pdf 没有数字签名", "dossier.pdf carries no signature")
    else:
        # The last signature must cover the whole file; the seal and the attached manifest are looked
        # for only in the bytes it covers (anything appended after signing is not the issuer's).
        a, b, c, d = (int(x) for x in max(ranges, key=lambda r: int(r[2]) + int(r[3])))
        whole = c + d == len(pdf)
        report(
            whole,
            "dossier.pdf 签名后未被追加内容（签名覆盖整个文件）",
            "nothing was appended to dossier.pdf after it was signed (the signature covers the whole file)",
        )
        pdf = pdf[a : a + b] + pdf[c : c + d]
    report(
        seal.encode() in pdf,
        "dossier.pdf 中写明的封印与 manifest.json 一致",
        "the seal written in dossier.pdf is the SHA-256 of manifest.json",
    )
    attached = any(
        b"EmbeddedFile" in header and hashlib.sha256(body).hexdigest() == seal
        for header, body in pdf_streams(pdf)
    )
    report(
        attached,
        "dossier.pdf 内嵌的证据清单与 manifest.json 逐字节相同",
        "the manifest attached inside dossier.pdf is byte for byte manifest.json",
    )
    print(
        "      请核对纸质或PDF每页页脚印有的封印前16位："
        + seal[:16]
        + " / compare with the seal printed in every "
        "page's footer (first 16 characters): " + seal[:16]
    )
    return manifest, seal


def sealed_files(manifest):
    files = {}
    for entry in manifest.get("evidence") or []:
        files[entry["bundle_path"]] = entry["sha256"]
    files.update((manifest.get("bundle") or {}).get("files") or {})
    return files


def check_files(manifest):
    sealed = sealed_files(manifest)
    present = bundle_files()
    for path, expected in sorted(sealed.items()):
        if path not in present:
            report(False, path + "：缺失", path + ": missing (sealed sha256 " + expected + ")")
            continue
        actual = sha256_file(path)
        report(
            actual == expected,
            path + "：与封印清单一致" if actual == expected else path + "：与封印清单不符",
            path
            + (
                ": matches the sealed manifest"
                if actual == expected
                else ": sealed sha256 " + expected + ", actual " + actual
            ),
        )
    legacy = not manifest.get("bundle")
    for path in present:
        if path in sealed or path in UNSEALED or path.startswith("timestamps/"):
            continue
        if legacy and path in LEGACY_UNSEALED:
            note(
                path + "：本材料出具时的清单未封印此文件，未核验；出具网站的“核验”页面可核对",
                path + ": the manifest of this older dossier does not seal it, so it was not checked; "
                "the issuing site's verify page checks it",
            )
            continue
        report(
            False,
            path + "：封印清单中没有此文件",
            path + ": not in the sealed manifest (added to the bundle)",
        )
    return sealed


def check_sums(sealed, seal, legacy_sealed=True):
    if not os.path.isfile("SHA256SUMS"):
        return
    good = True
    for number, line in enumerate(
        open("SHA256SUMS", encoding="utf-8", errors="replace").read().splitlines(), 1
    ):
        match = re.fullmatch(r"([0-9a-fA-F]{64})  (.+)", line.strip())
        if not match:
            continue
        digest, path = match.group(1).lower(), match.group(2)
        if path == "manifest.json":
            expected = seal
        elif path in sealed:
            expected = sealed[path]
        elif os.path.isfile(path) and (path == "dossier.pdf" or path.startswith("timestamps/")):
            expected = sha256_file(path)
        elif path in LEGACY_UNSEALED and not legacy_sealed:
            continue  # an older dossier's manifest does not seal it (noted above)
        else:
            expected = None
        if digest != expected:
            good = False
            report(
                False,
                "SHA256SUMS 第%d行（%s）与封印清单不符" % (number, path),
                "SHA256SUMS line %d (%s) disagrees with the sealed manifest" % (number, path),
            )
    if good:
        report(
            True,
            "SHA256SUMS 的每一行都与封印清单一致",
            "every line of SHA256SUMS agrees with the sealed manifest",
        )


def leaf_to_root(file_sha256_hex, path):
    node = hashlib.sha256(b"\x00" + bytes.fromhex(file_sha256_hex)).digest()
    for side, sibling in path:
        pair = bytes.fromhex(sibling) + node if side == "L" else node + bytes.fromhex(sibling)
        node = hashlib.sha256(b"\x01" + pair).digest()
    return node.hex()


def check_timestamps(manifest, sealed):
    proofs = [p for p in bundle_files() if p.startswith("timestamps/") and p.endswith(".proof.json")]
    stamped = {e["bundle_path"]: e for e in manifest.get("evidence") or [] if e.get("timestamp")}
    for path in sorted(stamped):
        proof = "timestamps/" + path + ".proof.json"
        if proof not in proofs and proof in sealed:
            report(
                False,
                proof + "：缺失",
                proof + ": missing (the sealed manifest says the file was timestamped)",
            )
    commands = set()
    for name in proofs:
        try:
            proof = json.load(open(name, encoding="utf-8"))
            target = proof["file"]
            actual = sha256_file(target) if os.path.isfile(target) else None
            root = leaf_to_root(actual, proof["path"]) if actual else None
            root_file = proof["token"][:-4] + ".root"
            kept_root = open(root_file).read().strip() if os.path.isfile(root_file) else None
            token = open(proof["token"], "rb").read() if os.path.isfile(proof["token"]) else b""
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report(False, name + "：无法读取（%s）" % exc.__class__.__name__, name + ": cannot be read")
            continue
        ok = bool(root) and root == proof.get("root") == kept_root and bytes.fromhex(root) in token
        when = proof.get("time", "?")
        sealed_stamp = (stamped.get(target) or {}).get("timestamp") or {}
        if proof["token"] not in sealed or name not in sealed:
            # Not sealed with the dossier: obtained after it was issued, or added by someone else.
            note(
                "%s：时间戳 %s 不在封印清单中（出具后取得，或为他人添加），须用下方 openssl 命令并以该机构公布的根证书核验后方可采信"
                % (target, proof["token"]),
                "%s: timestamp %s is not in the sealed manifest (obtained after issue, or added by someone "
                "else); trust it only after the openssl command below, with the TSA's published root "
                "certificate" % (target, proof["token"]),
            )
            if not ok:
                report(False, name + "：默克尔证明不成立", name + ": the Merkle proof does not hold")
        else:
            print(
                "      时间戳机构 / time-stamp authority: "
                + str(sealed_stamp.get("tsa_subject") or proof.get("tsa", "?"))
            )
            report(
                ok,
            "%s：经默克尔证明归于时间戳令牌 %s（%s UTC；证明文件当时已存在，不证明事件发生的时间）"
            % (target, proof["token"], when),
            "%s: leads through its Merkle proof to the root in token %s (%s UTC; proves the file existed then, "
            "not when the event happened)" % (target, proof["token"], when),
            )
        base = proof["token"][:-4]
        commands.add(
            'openssl ts -verify -digest "$(cat %s.root)" -in %s -CAfile %s'
            % (base, proof["token"], proof.get("tsa_chain", base + "-chain.pem"))
        )
    if commands:
        print(
            "      时间戳机构的签名需用 openssl 核验（应显示 Verification: OK）/ the TSA's signature needs openssl (must print Verification: OK):"
        )
        for command in sorted(commands):
            print("      " + command)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    os.chdir(here)
    manifest, seal = check_manifest_and_pdf()
    if manifest is not None:
        sealed = check_files(manifest)
        check_sums(sealed, seal, legacy_sealed=bool(manifest.get("bundle")))
        check_timestamps(manifest, sealed)
    print(
        "      PDF 的数字签名需用 PDF 阅读器或 pdfsig dossier.pdf 核验 / the PDF's signature needs a PDF reader "
        "or `pdfsig dossier.pdf` (poppler-utils)"
    )
    if results and all(results):
        print("全部通过 / ALL CHECKS PASSED")
        return 0
    print("未通过：%d 项 / FAILED: %d check(s)" % (results.count(False), results.count(False)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
