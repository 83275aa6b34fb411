"""Only mail tied to the week is a report: a school's own address, a roster school named in the
subject or body, or the notice's words in the subject or the body's lead. Signatures, invitations,
contact cards, source code and alternative renderings are never materials. A school named by a
stranger is held (school.unconfirmed_sender); a forged roster From is not believed where our
server says DMARC failed."""
from __future__ import annotations

import pytest

from daemon.judging import authres
from tests.builders.mail import build_mail, report_text
from tests.judging.conftest import codes

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
ASC = b"-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n-----END PGP SIGNATURE-----\n"
VCF = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Someone\r\nEND:VCARD\r\n"
CODE = b"#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n" * 40


@pytest.mark.parametrize("name,data,ctype", [
    ("invite.ics", ICS, "text/calendar"), ("signature.asc", ASC, "application/pgp-signature"),
    ("smime.p7s", b"0\x82\x05\x00" + b"\x00" * 300, "application/pkcs7-signature"),
    ("card.vcf", VCF, "text/vcard"), ("main.c", CODE, "text/x-c"), ("notes.txt", report_text(900).encode(), "text/plain"),
    ("photo.jpg", None, "image/jpeg"),
])
def test_a_strangers_files_make_no_report(judge, good_jpeg, name, data, ctype):
    r = judge(sender="someone@example.org", subject="Re: next week", body="See attached.",
              attachments=[(name, data if data is not None else good_jpeg, ctype)])
    assert r["kind"] == "other" and r["defects"] == []


def test_unnamed_alternative_part_is_not_material(judge):
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("Weather bulletin for Monday", "plain", "utf-8"))
    alt.attach(MIMEText("<bold>Weather</bold> bulletin", "enriched", "utf-8"))
    alt["From"], alt["Subject"], alt["Message-ID"] = "wx@example.org", "Weather", "<wx@example.org>"
    r = judge(raw=alt.as_bytes())
    assert r["kind"] == "other"


def test_signature_and_invite_of_a_school_are_not_materials(judge):
    r = judge(sender="school@qq.com", attachments=[("invite.ics", ICS, "text/calendar"),
                                                   ("signature.asc", ASC, "application/pgp-signature")])
    assert r["kind"] == "report" and "attachment.unknown_type" not in codes(r)


def test_report_words_in_the_body_lead_tie_the_mail(judge):
    body = "各位领导：\n附件是职教周一日一报材料。\n" + "谢谢"
    assert judge(sender="t@example.com", subject="材料", body=body)["kind"] == "report"
    far = "\n".join(["你好"] * 10) + "\n一日一报"
    assert judge(sender="t@example.com", subject="你好", body=far)["kind"] == "other"


def test_school_named_by_a_stranger_is_held(judge):
    r = judge(sender="prankster@gmail.com", subject="…厦门信息学校5月14日…", body="无")
    assert r["kind"] == "report" and r["school"] == "厦门信息学校"
    assert "school.unconfirmed_sender" in codes(r)
    v = r["_verdict"]
    assert v.held and not v.known_sender


def test_own_address_is_not_held(judge):
    r = judge(sender="xxxx@126.com", subject="一日一报5月14日")
    assert r["school"] == "厦门信息学校" and "school.unconfirmed_sender" not in codes(r)
    assert r["_verdict"].known_sender and not r["_verdict"].held


@pytest.mark.parametrize("header,fails", [
    ("mx.bureau.example; dmarc=fail header.from=126.com", True),
    ("mx.bureau.example 1; spf=fail smtp.mailfrom=126.com; dkim=none", True),
    ("mx.bureau.example; spf=fail smtp.mailfrom=126.com; dkim=pass header.d=126.com", False),
    ("mx.bureau.example; spf=pass; dkim=pass; dmarc=pass", False),
    ("mx.other.example; dmarc=fail", False),           # another server's word: anyone can write it
    ("mx.bureau.example.evil; dmarc=fail", False),
])
def test_authentication_results_of_our_server_only(header, fails):
    assert authres.from_fails([header], "mx.bureau.example") is fails
    assert authres.from_fails([header], "") is False


def test_our_servers_topmost_stamp_wins():
    ours, forged = "mx.bureau.example; dmarc=fail", "mx.bureau.example; dmarc=pass"
    assert authres.from_fails([ours, forged], "mx.bureau.example") is True


def test_forged_roster_from_is_held_when_dmarc_fails(judge, roster_path, tmp_path):
    from daemon.judging import roster as rosters
    from daemon.judging.judge import judge_file
    from tests.judging.conftest import _profile
    ros = rosters.load(roster_path)
    ros.authserv_id = "mx.bureau.example"
    p = tmp_path / "forged.eml"
    p.write_bytes(build_mail(subject="一日一报5月14日", sender="xxxx@126.com", body=report_text(1000, "厦门信息学校"),
                             headers={"Authentication-Results": "mx.bureau.example; dmarc=fail"}))
    v, _ = judge_file(p, _profile("xiamen-2023"), ros)
    assert v.school == "厦门信息学校" and v.school_how == "body" and v.held
