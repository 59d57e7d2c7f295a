#!/usr/bin/python3
"""Simplified Chinese and Japanese text renders with real glyphs, not boxes:
fontconfig picks a font covering the language for "sans-serif", and Pango
(what GTK draws with) lays out UI strings from po/zh_CN.po and po/ja.po
with no unknown glyphs. Needs fonts-noto-cjk or fonts-wqy-zenhei (zh_CN)
and fonts-ipafont-gothic or fonts-noto-cjk (ja), as .ci/install-deps
installs."""
import subprocess
import sys

import gi
gi.require_version("Pango", "1.0")
gi.require_version("PangoCairo", "1.0")
from gi.repository import Pango, PangoCairo  # noqa: E402

SAMPLES = {
    "zh-cn": "设置 角色 世界书 正在说话 导出角色卡 放弃更改？",
    "ja": "設定 キャラクター ロアブック 話しています 変更を破棄しますか?",
}
failed = False
fontmap = PangoCairo.FontMap.get_default()
context = fontmap.create_context()

for lang, text in SAMPLES.items():
    family = subprocess.run(["fc-match", "-f", "%{family}", "sans-serif:lang=" + lang],
                            capture_output=True, text=True).stdout
    path = subprocess.run(["fc-match", "-f", "%{file}", "sans-serif:lang=" + lang],
                          capture_output=True, text=True).stdout
    langs = subprocess.run(["fc-query", "-f", "%{lang}", path], capture_output=True, text=True).stdout
    if lang not in langs.split("|"):
        print("not ok - fontconfig picks %r (%s) for %s, which does not cover it" % (family, path, lang))
        failed = True
    else:
        print("ok - fontconfig picks %r for %s" % (family, lang))

    context.set_language(Pango.Language.from_string(lang))
    layout = Pango.Layout.new(context)
    layout.set_font_description(Pango.FontDescription.from_string("Sans 12"))
    layout.set_text(text, -1)
    unknown = layout.get_unknown_glyphs_count()
    if unknown:
        print("not ok - %d of %r render as boxes for %s" % (unknown, text, lang))
        failed = True
    else:
        print("ok - %r renders for %s" % (text, lang))

sys.exit(1 if failed else 0)
