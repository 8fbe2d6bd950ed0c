"""Strong-indicator extraction: adversarial strings, ATT&CK validation, the stoplist, real Wazuh records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisoc.events import Indicator, IndicatorType, valid_techniques
from integrations.attack import catalogue
from integrations.indicators import extract_fields, extract_text, indicator, merge, techniques_in
from integrations.stoplist import Stoplist, configured_stoplist
from integrations.wazuh import normalize

DATA = Path(__file__).resolve().parents[2] / "data"


def found(text: str) -> set[tuple[str, str]]:
    return {(i.type.value, i.value) for i in extract_text(text)}


def wazuh_record(record_id: str) -> dict:
    for line in (DATA / "wazuh" / "alerts.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        if record["id"] == record_id:
            return record
    raise AssertionError(f"record {record_id} not in the data")


def test_defanged_forms_are_refanged() -> None:
    """Given hxxp, [.] and (dot) forms, when extracted, then the real URL, domain, IP and e-mail come out."""
    got = found("beacon hxxps://evil[.]example(dot)com/a?b=1 then 185.220.101[.]4 mail user[@]bad[.]org")
    assert ("url", "https://evil.example.com/a?b=1") in got
    assert ("domain", "evil.example.com") in got
    assert ("ip", "185.220.101.4") in got
    assert ("email", "user@bad.org") in got


@pytest.mark.parametrize(
    "text",
    [
        "999.1.2.3 is not an address",
        "running version 1.2.3.4 of the agent",
        "Mozilla/5.0 Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0",
        "build v2.3.4.5 shipped",
        "fileVersion 10.0.26100.4202 (WinBuild.160101.0800)",
        "octets 01.02.03.256",
    ],
)
def test_invalid_ips_and_version_strings_are_not_addresses(text: str) -> None:
    """Given an impossible address or a version number, when extracted, then no IP comes out."""
    assert not {v for t, v in found(text) if t == "ip"}


def test_private_and_reserved_addresses_are_flagged_not_dropped() -> None:
    """Given private, reserved and public addresses, when extracted, then all come out, private flagged."""
    got = {
        i.value: i.private
        for i in extract_text("10.0.0.5 192.168.1.1 127.0.0.1 172.217.3.110 8.8.8.8 fe80::1")
    }
    assert got == {
        "10.0.0.5": True,
        "192.168.1.1": True,
        "127.0.0.1": True,
        "172.217.3.110": False,
        "8.8.8.8": False,
        "fe80::1": True,
    }


def test_ipv6_supported_but_scope_operators_are_not_addresses() -> None:
    """Given IPv6 addresses and C++ scope names, when extracted, then only the addresses come out."""
    got = found("2606:4700::6810:85e5 and 2001:db8::1 but std::vector and a::b")
    assert {v for t, v in got if t == "ip"} == {"2606:4700::6810:85e5", "2001:db8::1"}


def test_domains_need_a_public_suffix_and_are_not_file_or_code_names() -> None:
    """Given domains beside files, .NET names and bad suffixes, when extracted, then only domains come out."""
    text = (
        "C:\\Windows\\Microsoft.NET\\Framework64 System.Management.Automation.dll WScript.Shell "
        "-o C:\\T1105.zip payload.zip notes.txt host.invalidtld corp.local evil.co.uk EVIL.COM"
    )
    assert {v for t, v in found(text) if t == "domain"} == {"evil.co.uk", "evil.com"}


def test_hashes_in_urls_tokens_imphash_and_degenerate_values_are_not_file_hashes() -> None:
    """Given a commit id in a URL, a CSRF token, an imphash and zeros, when extracted, then none is a hash."""
    text = (
        "https://github.com/x/y/raw/058b5c2423c4a6e9e226f4e5ffa1a6fd9bb1a90e/a.dll "
        "/dvwa/?id=1&user_token=da59db29379faf3476dc05aaaea53f0f "
        "IMPHASH=F34D5F2D4577ED6D9CEEC516C1F5A744 00000000000000000000000000000000"
    )
    assert not {t for t, _ in found(text)} & {"md5", "sha1", "sha256"}


def test_hashes_cves_emails_and_registry_keys() -> None:
    """Given hashes, CVEs, an e-mail and a registry key, when extracted, then each has its type."""
    text = (
        "SHA256=CB5B57BDF44D7822BD72A985BE3D6B535884DD4419D53B9EFEB09A22A9694C43,"
        "MD5=8ED7A145F11B16A13948C4DC698CCB29 see CVE-2021-44228 and cve-2014-6271, "
        "from bob@corp.example.com "
        "key HKLM\\\\System\\\\CurrentControlSet\\\\Services\\\\PSEXESVC\\\\ImagePath\r\nDetails: x"
    )
    assert found(text) == {
        ("sha256", "cb5b57bdf44d7822bd72a985be3d6b535884dd4419d53b9efeb09a22a9694c43"),
        ("md5", "8ed7a145f11b16a13948c4dc698ccb29"),
        ("cve", "CVE-2021-44228"),
        ("cve", "CVE-2014-6271"),
        ("email", "bob@corp.example.com"),
        ("registry_key", "HKLM\\System\\CurrentControlSet\\Services\\PSEXESVC\\ImagePath"),
    }


def test_email_domains_are_not_domain_indicators() -> None:
    """Given only an e-mail address, when extracted, then its mail domain is not a separate domain."""
    assert found("from alice@gmail.com") == {("email", "alice@gmail.com")}


def test_structured_values_are_validated() -> None:
    """Given structured values, when validated, then bad ones are None and IPs are normalized and flagged."""
    assert indicator("ip", "10.1.2.3") == Indicator(type="ip", value="10.1.2.3", private=True)
    assert indicator("ip", "300.1.2.3") is None
    assert indicator("sha256", "AB" * 32).value == "ab" * 32
    assert indicator("md5", "z" * 32) is None
    assert indicator("domain", "payload.notatld") is None
    assert indicator("url", "http://10.0.0.1/x").private is True


def test_fields_are_walked_with_paths_and_skips() -> None:
    """Given a nested record with an analyst note, when walked, then paths are kept and the note skipped."""
    record = {
        "event": {"cmd": "curl http://evil.com/x"},
        "note": "confirmed C2 at 203.0.113.50",
        "list": ["1.1.1.1"],
    }
    got = {(i.value, i.field) for i in extract_fields(record, skip=["note"])}
    assert got == {("http://evil.com/x", "event.cmd"), ("evil.com", "event.cmd"), ("1.1.1.1", "list")}


def test_merge_keeps_one_indicator_per_key() -> None:
    """Given the same indicator twice with different case, when merged, then the first one stays."""
    a = Indicator(type="domain", value="evil.com", field="a")
    assert merge([a], [Indicator(type="domain", value="EVIL.com", field="b")]) == [a]


def test_techniques_are_checked_against_the_attack_catalogue() -> None:
    """Given real, unknown, malformed and revoked ids, when validated, then only catalogued ones stay."""
    assert valid_techniques(["t1059.001", "T9999", "T12", "T1086", "T1059.001"]) == ["T1059.001"]
    assert valid_techniques(["T1002"]) == ["T1560"]  # revoked-by its replacement
    assert techniques_in("atomics/T1218.010/bin and T0000") == ["T1218.010"]
    assert catalogue().lookup("G0046")["name"] == "FIN7"


def test_stoplist_blocks_shared_infrastructure_only() -> None:
    """Given builtin and configured entries, when asked, then resolvers, CDNs, org ranges and values block."""
    stop = Stoplist(domains=["corp.example"], ips=["10.20.0.0/16"], values=["email:soc@corp.example"])
    blocked = [
        Indicator(type="ip", value="8.8.8.8"),
        Indicator(type="domain", value="a1.e.akamaiedge.net"),
        Indicator(type="domain", value="vpn.corp.example"),
        Indicator(type="url", value="https://mail.corp.example/owa"),
        Indicator(type="ip", value="10.20.3.4", private=True),
        Indicator(type="sha256", value="E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"),
        Indicator(type="email", value="SOC@corp.example"),
    ]
    kept = [
        Indicator(type="ip", value="185.220.101.4"),
        Indicator(type="domain", value="d1234.cloudfront.net"),
        Indicator(type="domain", value="notcorp.example.org"),
        Indicator(type="ip", value="10.21.0.1", private=True),
    ]
    assert all(stop.blocks(i) for i in blocked)
    assert not any(stop(i) for i in kept)
    assert Stoplist(private=True, builtin=False).blocks(Indicator(type="ip", value="10.21.0.1", private=True))
    assert stop.keep(kept + blocked) == kept


def test_stoplist_from_settings_and_bad_entries() -> None:
    """Given a settings table, when built, then its entries apply; a malformed IP entry is a clear error."""
    from integrations.settings import IntegrationsSettings

    settings = IntegrationsSettings(stoplist={"builtin": False, "domains": ["example.org"]})
    stop = Stoplist.from_settings(settings)
    assert stop.blocks(Indicator(type="domain", value="x.example.org"))
    assert not stop.blocks(Indicator(type="ip", value="8.8.8.8"))
    with pytest.raises(ValueError, match="not an IP address"):
        Stoplist(ips=["10.0.0.0/33"])


def test_configured_stoplist_reads_the_settings_file(tmp_path: Path) -> None:
    """Given a settings file with the org's domain, when the factory loads it, then that domain is skipped."""
    config = tmp_path / "aisoc.toml"
    config.write_text('[integrations.stoplist]\ndomains = ["corp.example"]\nips = ["192.0.2.53"]\n')
    stop = configured_stoplist(str(config))
    assert stop(Indicator(type="domain", value="dc1.corp.example")) and stop(
        Indicator(type="ip", value="192.0.2.53")
    )


def test_hand_checked_sysmon_record() -> None:
    """Given Wazuh record lxca15cB1Hp-jZ7fRKyv (data/wazuh line 56, Sysmon event 1: cmd.exe running IEX
    DownloadString of PowerSploit's Invoke-Mimikatz.ps1 from raw.githubusercontent.com), when normalized,
    then exactly the three image hashes of data.win.eventdata.hashes, the download URL and its host come
    out; NOT the IMPHASH ED7992..., the commit id f650520... inside the URL, the fileVersion
    10.0.26100.4202 or the process GUIDs; technique T1059.003 from rule.mitre.id."""
    alert = normalize(wazuh_record("lxca15cB1Hp-jZ7fRKyv"))
    assert {(i.type.value, i.value) for i in alert.indicators} == {
        ("sha1", "09c438b2b740e73b9bcba70af4b8cc10a31b4eee"),
        ("md5", "59a3f41dd84517fcf809bd65fff5e721"),
        ("sha256", "ae4943e5f3f763688e10601f090b4cae3ce19f0b427007884b40d27d7fb9274d"),
        (
            "url",
            "https://raw.githubusercontent.com/PowerShellMafia/PowerSploit/"
            "f650520c4b1004daf8b3ec08007a0b945b91253a/Exfiltration/Invoke-Mimikatz.ps1",
        ),
        ("domain", "raw.githubusercontent.com"),
    }
    assert alert.techniques == ["T1059.003"]
    assert alert.hosts == ["Win11Client"] and alert.users == ["SOCLAB\\snell"]


def test_hand_checked_shellshock_and_sqli_records() -> None:
    """Given record eV5665cBARIQcDql-GZ3 (line 3: Apache log of a Shellshock probe from 10.0.2.8) and the DVWA
    SQL injection records (relative URL with a user_token), when normalized, then the source IP is the only
    indicator, flagged private, and the CSRF tokens are not taken for md5 hashes."""
    shellshock = normalize(wazuh_record("eV5665cBARIQcDql-GZ3"))
    assert [(i.type.value, i.value, i.private, i.field) for i in shellshock.indicators] == [
        ("ip", "10.0.2.8", True, "alert._source.data.srcip")
    ]
    assert shellshock.techniques == ["T1068", "T1190"]
    for line in (DATA / "wazuh" / "alerts.jsonl").open(encoding="utf-8"):
        if "user_token=" in line:
            alert = normalize(json.loads(line))
            assert not [
                i for i in alert.indicators if i.type is IndicatorType.MD5 and "user_token" not in i.value
            ]


def test_real_wazuh_records_yield_no_fake_domains_or_version_ips() -> None:
    """Given the 89 real Wazuh records, when normalized, then domains are real hosts, no IP a version."""
    domains, ips = set(), set()
    for line in (DATA / "wazuh" / "alerts.jsonl").open(encoding="utf-8"):
        for i in normalize(json.loads(line)).indicators:
            if i.type is IndicatorType.DOMAIN:
                domains.add(i.value)
            if i.type is IndicatorType.IP:
                ips.add(i.value)
    assert domains == {"github.com", "raw.githubusercontent.com", "curl.se"}
    assert "138.0.0.0" not in ips and all(ip.startswith("10.0.") for ip in ips)


def test_urls_lose_their_credentials() -> None:
    """Given URLs with a password, a CSRF token and a signature, when extracted, then the host and path stay
    and the secrets are gone (no password taken for an e-mail either)."""
    got = found("GET https://bob:hunter2@evil.com/login?user_token=abc123def456&q=1&X-Amz-Signature=f00d#top")
    assert got == {
        ("url", "https://evil.com/login?user_token=&q=1&X-Amz-Signature=#top"),
        ("domain", "evil.com"),
    }


@pytest.mark.parametrize(
    "text",
    [
        "FileVersion: 8.6.2.0\r\nDescription: updater",
        "ProductVersion=10.0.1.2 Company: Contoso",
        "OSBuild 22.1.0.4 installed",
    ],
)
def test_version_fields_are_not_addresses(text: str) -> None:
    """Given a version field whose value parses as a public IPv4 address, when extracted, then no IP; a word
    that merely ends like one (server, driver) still precedes a real address."""
    assert not {kind for kind, _ in found(text)} & {"ip"}
    assert ("ip", "8.8.8.8") in found(f"{text}; resolver server 8.8.8.8 answered")


def test_hash_named_folders_are_not_file_hashes_but_hash_named_files_are() -> None:
    """Given digests as folder names (a package cache, the Windows update download folder, a braced temp
    folder) and one as a file name, when extracted, then only the file's counts."""
    md5 = "5d41402abc4b2a76b9719d911017c592"
    for folder in (
        rf"C:\ProgramData\Package Cache\{md5}\setup.msi",
        f"/var/cache/apt/archives/partial/{md5}/pkg.deb",
        rf"C:\Users\bob\AppData\Local\Temp\{{{md5}}}\x.exe",
    ):
        assert found(folder) == set(), folder
    assert ("md5", md5) in found(rf"C:\Users\bob\Downloads\{md5}.exe")


def test_real_hash_named_folders_are_not_file_hashes() -> None:
    """Given the real Sysmon records naming SoftwareDistribution\\Download\\<id>\\ and a NativeImages cache
    folder, when normalized, then those ids are not md5 indicators while the images' own hashes stay."""
    folders = {
        "d334d481a47cb98edae87007427d1718",
        "8254f248060006e8b7dcc36da9c8f403",
        "e3f983991899d4cce4281634a9af277a",
    }
    md5s: set[str] = set()
    for line in (DATA / "wazuh" / "alerts.jsonl").open(encoding="utf-8"):
        md5s |= {i.value for i in normalize(json.loads(line)).indicators if i.type is IndicatorType.MD5}
    assert not md5s & folders and len(md5s) >= 20


@pytest.mark.parametrize(
    "permalink",
    [
        "https://www.virustotal.com/gui/file/ae4943e5f3f763688e10601f090b4cae3ce19f0b427007884b40d27d7fb9274d",
        "https://www.hybrid-analysis.com/sample/ae4943e5f3f763688e10601f090b4cae3ce19f0b427007884b40d27d7fb9274d",
        "see hxxps://urlscan[.]io/result/0b5e-4c1a/ for details",
        "https://bazaar.abuse.ch/sample/ae4943e5f3f763688e10601f090b4cae3ce19f0b427007884b40d27d7fb9274d/",
    ],
)
def test_scanner_permalinks_are_references_not_indicators(permalink: str) -> None:
    """Given a scanner's permalink in an alert, when extracted (or given as a structured URL), then neither
    the link nor the portal's domain is an indicator."""
    assert not {kind for kind, _ in found(permalink)} & {"url", "domain"}
    assert indicator("url", permalink.split()[0]) is None or "hxxps" in permalink
    assert indicator("domain", "www.virustotal.com") is None
    assert indicator("domain", "evil-virustotal.com") is not None
