"""The standard rule sheet, drawn from rule sheets villages publish (see FIELD-NOTES)."""


def _rule(code, name, category, points, cap_period=None, cap_count=None, veto=False, evidence=False):
    return {
        "code": code,
        "name": name,
        "category": category,
        "points": points,
        "cap_period": cap_period,
        "cap_count": cap_count,
        "veto": veto,
        "requires_evidence": evidence,
    }


STANDARD_RULES = [
    # 遵纪守法
    _rule("LAW-MEDIATE", "配合矛盾调解", "遵纪守法", 10, "month", 2),
    _rule("LAW-GAMBLE", "参与赌博", "遵纪守法", -20, veto=True, evidence=True),
    _rule("LAW-CULT", "传播邪教", "遵纪守法", -30, veto=True, evidence=True),
    _rule("LAW-LAND", "违法占用耕地", "遵纪守法", -30, veto=True, evidence=True),
    _rule("LAW-FIGHT", "打架斗殴且拒不调解", "遵纪守法", -2),
    # 移风易俗
    _rule("CUS-WEDDING", "婚事新办、丧事简办", "移风易俗", 10, "year", 2),
    _rule("CUS-RULES", "违反村规民约", "移风易俗", -10, evidence=True),
    # 勤劳致富
    _rule("WORK-SCHOOL", "参加农牧民夜校", "勤劳致富", 3, "day", 1),
    _rule("WORK-HONOUR-V", "获村级表彰", "勤劳致富", 5, "year", 5),
    _rule("WORK-HONOUR-N", "获国家级表彰", "勤劳致富", 50, "year", 2, evidence=True),
    # 清洁卫生
    _rule("CLEAN-CAMPAIGN", "参加环境卫生整治", "清洁卫生", 5, "day", 1),
    _rule("CLEAN-COURTYARD", "评为美丽庭院", "清洁卫生", 15, "quarter", 1, evidence=True),
    _rule("CLEAN-TREES", "植树绿化", "清洁卫生", 10, "month", 2),
    _rule("CLEAN-DUMP", "警告后仍乱倒垃圾", "清洁卫生", -10, evidence=True),
    _rule("CLEAN-YARD", "庭院脏乱", "清洁卫生", -5),
    # 家庭文明
    _rule("FAM-ELDER", "孝老爱亲、照顾老人", "家庭文明", 10, "month", 1),
    _rule("FAM-MODEL", "评为模范家庭", "家庭文明", 15, "year", 1),
    # 邻里和睦
    _rule("NBR-HELP", "帮助邻里", "邻里和睦", 10, "month", 3),
    _rule("NBR-LOST", "拾金不昧", "邻里和睦", 5, "month", 4),
    # 遵守公德
    _rule("PUB-PARTY", "参加党日活动", "遵守公德", 5, "day", 1),
    _rule("PUB-MEETING", "参加村民会议", "遵守公德", 5, "week", 12),
    _rule("PUB-BRAVE", "见义勇为", "遵守公德", 50, evidence=True),
    _rule("PUB-DAMAGE", "损坏公共设施", "遵守公德", -10),
    # 志愿服务
    _rule("VOL-LABOUR", "义务投工投劳", "志愿服务", 5, "day", 1),
    _rule("VOL-SERVICE", "志愿服务", "志愿服务", 15, "month", 33),
    _rule("VOL-ACTIVITY", "参加组织活动", "志愿服务", 10, "week", 3),
    _rule("VOL-PUBLIC", "公益劳动", "志愿服务", 8, "week", 2),
]
