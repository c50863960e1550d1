"""VERIFY.py's own cryptography and the disc layout rules, without S3: RFC 8032 test vectors, agreement
with ``chain`` (the reference implementation) on proofs and signed notes, Python 3.8 syntax, stdlib only.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.checkpoint import Checkpoint, SignerKey, format_vkey, key_id, sign_checkpoint
from chain.merkle import MemoryNodes, consistency_proof, inclusion_proof, leaf_hash
from retention.export import layout, sheets, verify_disc
from retention.export.launcher import GUARD, OLD_PYTHON_EXIT, disc_verifier, embedded_source
from retention.export.layout import ExportError, Item

# RFC 8032 §7.1, TEST 1, 2 and 3: (secret key, public key, message, signature), hex.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


def _flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8 % len(changed)] ^= 1 << (bit % 8)
    return bytes(changed)


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors_verify_and_altered_ones_do_not(secret: str, public: str, message: str, signature: str) -> None:
    key, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    # The vectors are the RFC's: the reference library derives the same key and signature from the secret.
    signer = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert signer.public_key().public_bytes_raw() == key
    assert signer.sign(msg) == sig

    assert verify_disc.ed25519_verify(key, msg, sig)
    assert not verify_disc.ed25519_verify(key, msg + b"x", sig)
    for bit in (0, 7, 255, 256, 300, 511):
        assert not verify_disc.ed25519_verify(key, msg, _flip(sig, bit)), bit
    assert not verify_disc.ed25519_verify(_flip(key, 3), msg, sig)
    assert not verify_disc.ed25519_verify(key, msg, sig[:63])
    # S + L encodes the same scalar; RFC 8032 §5.1.7 requires rejecting S >= L (malleability).
    s = int.from_bytes(sig[32:], "little") + verify_disc._L
    assert not verify_disc.ed25519_verify(key, msg, sig[:32] + s.to_bytes(32, "little"))


@settings(max_examples=25, deadline=None)
@given(message=st.binary(max_size=200), bit=st.integers(min_value=0, max_value=511))
def test_signatures_of_the_reference_library_verify_and_flipped_ones_fail(message: bytes, bit: int) -> None:
    signer = Ed25519PrivateKey.generate()
    public = signer.public_key().public_bytes_raw()
    signature = signer.sign(message)
    assert verify_disc.ed25519_verify(public, message, signature)
    assert not verify_disc.ed25519_verify(public, message, _flip(signature, bit))


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=1, max_value=70), data=st.data())
def test_proofs_made_by_chain_verify_and_altered_ones_fail(size: int, data: st.DataObject) -> None:
    tree = MemoryNodes.from_entries(f"entry {i}".encode() for i in range(size))
    root = tree.root()
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(index, size, tree)
    leaf = leaf_hash(f"entry {index}".encode())
    verify_disc.verify_inclusion(leaf, index, size, proof, root)
    with pytest.raises(verify_disc.Failure):
        verify_disc.verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
    if proof:
        with pytest.raises(verify_disc.Failure):
            verify_disc.verify_inclusion(leaf, index, size, [_flip(proof[0], 0), *proof[1:]], root)

    old = data.draw(st.integers(min_value=1, max_value=size))
    old_tree = MemoryNodes.from_entries(f"entry {i}".encode() for i in range(old))
    bridge = consistency_proof(old, size, tree)
    verify_disc.verify_consistency(old, size, old_tree.root(), root, bridge)
    if bridge:
        with pytest.raises(verify_disc.Failure):
            verify_disc.verify_consistency(old, size, old_tree.root(), root, [*bridge[:-1], _flip(bridge[-1], 9)])
    if old < size:
        with pytest.raises(verify_disc.Failure):
            verify_disc.verify_consistency(old, size, _flip(old_tree.root(), 1), root, bridge)


def test_signed_checkpoints_of_chain_open_and_the_documented_example_too() -> None:
    private = Ed25519PrivateKey.generate()
    name = "dock.example/log"
    signer = SignerKey(name, key_id(name, private.public_key()), private)
    note = sign_checkpoint(Checkpoint(name, 42, bytes(range(32))), signer)
    vkey = format_vkey(name, private.public_key())
    assert verify_disc.open_checkpoint(note, vkey) == (name, 42, bytes(range(32)))
    with pytest.raises(verify_disc.Failure, match="does not verify"):
        verify_disc.open_checkpoint(note.replace("\n42\n", "\n43\n"), vkey)
    other = format_vkey(name, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(verify_disc.Failure, match="no signature by the verifier key"):
        verify_disc.open_checkpoint(note, other)

    # docs/log-format.md §7: the worked example's checkpoint.
    example = (
        "example.evidock/log\n3\n9tkBO2JcTGKwJrpMyaJqLa/phvCI5j/qAR0kNPxhtIk=\n\n"
        "\u2014 example.evidock/log mm/dM0A1mjSZaJimPKdMUkw3iyYWb6KnVQWO+O2N7encPWo+hWVAYwXzpCh6DrU+0mQqyXEVVCMotX"
        "XkPevrDayHcAw=\n"
    )
    origin, size, root = verify_disc.open_checkpoint(
        example, "example.evidock/log+9a6fdd33+AYFUrHEndUX8UVkwojiBonVbESoe2e0nYgTortHhhjCE"
    )
    assert (origin, size, root.hex()) == (
        "example.evidock/log",
        3,
        "f6d9013b625c4c62b026ba4cc9a26a2dafe986f088e63fea011d2434fc61b489",
    )


def test_verify_py_is_python_38_syntax_and_imports_only_the_standard_library() -> None:
    source = Path(verify_disc.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 8))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    # Subscripted builtins evaluated at run time need Python 3.9: none at module level (the type alias
    # sits under ``if TYPE_CHECKING``; annotations are not evaluated, thanks to ``from __future__``).
    runtime_subscripts = [
        node.lineno
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Subscript)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id in {"list", "dict", "tuple", "set"}
    ]
    assert runtime_subscripts == []
    assert "from __future__ import annotations" in source


def _old_pythons() -> list[str]:
    """Real Python 2.7 and 3.6 interpreters, where this machine has them (pyenv keeps old versions)."""
    versions = Path.home() / ".pyenv" / "versions"
    return [str(p) for pattern in ("2.7*/bin/python2.7", "3.6*/bin/python3.6") for p in sorted(versions.glob(pattern))]


def test_the_discs_verify_py_holds_the_verifier_verbatim_behind_a_guard_any_python_parses() -> None:
    script = sheets.VERIFIER_TEXT
    assert embedded_source(script) == Path(verify_disc.__file__).read_bytes()
    # The whole file parses with the oldest grammar ast knows (the verifier is a string until the check).
    ast.parse(script.decode("utf-8"), feature_version=(3, 4))
    guard = ast.parse(GUARD + "'''")
    assert not any(isinstance(n, ast.JoinedStr | ast.AnnAssign | ast.NamedExpr) for n in ast.walk(guard))
    with pytest.raises(ValueError, match="raw"):
        disc_verifier(b"x = '''y'''\n")


@pytest.mark.parametrize("python", _old_pythons() or [pytest.param("", marks=pytest.mark.skip("no old Python"))])
def test_an_old_python_says_in_one_line_that_it_is_too_old(python: str, tmp_path: Path) -> None:
    verify = tmp_path / "VERIFY.py"
    verify.write_bytes(sheets.VERIFIER_TEXT)
    done = subprocess.run(
        [python, str(verify), str(tmp_path)], capture_output=True, check=False, env={"LANG": "C"}, timeout=60
    )
    assert done.returncode == OLD_PYTHON_EXIT, done.stderr
    assert done.stdout == b""
    (line,) = done.stderr.decode("utf-8", "replace").splitlines()
    assert line.startswith("VERIFY.py needs Python 3.8 or later; this is Python ")


def test_readable_names_fit_joliet_and_every_file_system() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC)
    name = layout.readable_name(
        recording="ab" * 32,
        device="朝阳分局执法记录仪" * 8 + 'a/b:c*?"<>|',
        start=start,
        seq=7,
        original_name="x.MP4",
        tz=tz,
    )
    assert len(name) <= layout.JOLIET_NAME
    assert name.endswith("_20261120-090203_0007_abababab.MP4")
    assert name.startswith("朝阳分局执法记录仪")
    assert not set('/\\:*?"<>|') & set(name)
    plain = layout.readable_name(
        recording="cd" * 32, device="CAM\U0001f4f7", start=None, seq=None, original_name="noext", tz=tz
    )
    assert plain == "CAM__time-unknown_cdcdcdcd"


def test_discs_are_filled_in_order_and_a_recording_too_big_for_any_disc_is_refused() -> None:
    mib = 1024 * 1024
    items = [Item(f"{n:064x}", 3 * mib, 5) for n in range(5)]
    capacity = layout.room_needed(items[:2])
    discs = layout.plan_discs(items, capacity, media="test")
    assert discs == [items[0:2], items[2:4], items[4:5]]
    with pytest.raises(ExportError, match="use --media dvd"):
        layout.plan_discs([Item("f" * 64, layout.MEDIA["cd"], 3)], layout.MEDIA["cd"], media="cd")
    with pytest.raises(ExportError, match="--media 'floppy' is not known"):
        layout.capacity_of("floppy")


def test_the_curve_constants_written_out_in_verify_py_are_the_rfc_8032_ones() -> None:
    p = verify_disc._P
    assert -121665 * pow(121666, p - 2, p) % p == verify_disc._D
    assert pow(2, (p - 1) // 4, p) == verify_disc._SQRT_M1
    assert 4 * pow(5, p - 2, p) % p == verify_disc._BASE_Y
    assert verify_disc._recover_x(verify_disc._BASE_Y, 0) == verify_disc._BASE_X
