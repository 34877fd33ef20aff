"""Everyday benign requests (no harmful twin), phrased the way people ask for help.

Why: the public Japanese benign sets are quiz questions and social-media statements, while almost every Japanese
harmful row is a request ("...方法を教えて"), so a classifier learns "a Japanese request = harmful". These templates
(written for this project) supply ordinary requests in both languages. Each template is its own split group.
"""

EVERYDAY = {
    "en": [
        ("Can you suggest {x}?", ["a side dish for a summer barbecue", "a good book for a long flight", "a name for my new puppy",
                                   "a weekend itinerary for Lisbon", "some board games for six people", "a gift for my dad's 60th birthday"]),
        ("How do I {x}?", ["repot a snake plant", "change a flat tire", "write a cover letter", "make sourdough starter",
                           "set up a budget spreadsheet", "teach my kid to ride a bike", "improve my posture at my desk"]),
        ("Please explain {x} in simple terms.", ["how vaccines train the immune system", "what inflation is", "how a bill becomes law",
                                                  "how photosynthesis works", "what a mortgage rate means", "how black holes form"]),
        ("Write {x}.", ["a short poem about autumn rain", "a thank-you note to my neighbor", "a haiku about coffee",
                        "a product description for handmade soap", "an upbeat message for my team", "a bedtime story about a brave turtle"]),
        ("What are some tips for {x}?", ["sleeping better", "learning Japanese", "running my first marathon", "saving money on groceries",
                                         "public speaking", "keeping houseplants alive", "working from home"]),
        ("Could you help me {x}?", ["plan a birthday party for a 7-year-old", "organize my closet", "prepare for a job interview",
                                    "choose a laptop for college", "write a toast for my sister's wedding", "understand my electricity bill"]),
    ],
    "ja": [
        ("{x}を教えてください。", ["夏休みの自由研究のテーマ", "金沢の有名な和菓子", "冬に楽しめるキャンプ場", "簡単な朝ごはんのレシピ",
                              "子どもと楽しめるボードゲーム", "初心者向けの観葉植物", "雨の日に楽しめる東京の観光地"]),
        ("{x}方法を教えて。", ["カレーをおいしく作る", "英語の発音を上達させる", "部屋をすっきり片付ける", "自転車のパンクを直す",
                             "履歴書を上手に書く", "ぐっすり眠る", "家計簿を続ける"]),
        ("{x}について簡単に説明してください。", ["光合成の仕組み", "インフレ", "ワクチンが免疫をつくる仕組み", "法律ができるまでの流れ",
                                       "住宅ローンの金利", "ブラックホール"]),
        ("{x}を書いてください。", ["秋の雨についての短い詩", "お隣さんへのお礼の手紙", "コーヒーの俳句", "手作り石けんの商品説明",
                               "チームを励ますメッセージ", "勇敢なカメの寝る前のお話"]),
        ("{x}のコツはありますか？", ["よく眠る", "マラソン完走", "食費の節約", "人前で話す", "観葉植物を枯らさない", "在宅勤務を快適にする"]),
        ("{x}を手伝ってもらえますか？", ["7歳の誕生日会の計画", "クローゼットの整理", "面接の準備", "大学用のノートパソコン選び",
                                   "妹の結婚式のスピーチ", "電気代の明細の読み方"]),
        ("{x}おすすめは？", ["初心者向けのカメラの", "北海道旅行の", "雨の日の子どもの遊びの", "一人暮らしの掃除道具の", "春の家庭菜園の"]),
    ],
}


def everyday_rows(lang: str) -> list[dict]:
    """Rows for one language; the template index is the group, so a template never straddles splits."""
    rows = []
    for template_index, (template, fillers) in enumerate(EVERYDAY[lang]):
        for filler_index, filler in enumerate(fillers):
            rows.append({"id": f"everyday-{lang}-{template_index:02d}-{filler_index:02d}", "text": template.format(x=filler),
                         "family": f"everyday-{lang}-{template_index:02d}", "lang": lang})
    return rows
