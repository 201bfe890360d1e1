"""TLS and mutual TLS on the gRPC port, with certificates made in the test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.server_process import ServerProcess


@dataclass(frozen=True)
class Issued:
    cert: bytes
    key: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(name: str) -> tuple[Issued, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)), key, cert


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str, usage: x509.ObjectIdentifier
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


@dataclass(frozen=True)
class Pki:
    ca: Issued
    server: Issued
    client: Issued
    stranger: Issued  # a client certificate from a CA the server does not trust
    directory: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key, ca_cert = _ca("backhaul test CA")
    _, other_key, other_cert = _ca("untrusted CA")
    pki = Pki(
        ca=ca,
        server=_leaf(ca_key, ca_cert, "localhost", ExtendedKeyUsageOID.SERVER_AUTH),
        client=_leaf(ca_key, ca_cert, "returns-portal", ExtendedKeyUsageOID.CLIENT_AUTH),
        stranger=_leaf(other_key, other_cert, "intruder", ExtendedKeyUsageOID.CLIENT_AUTH),
        directory=directory,
    )
    for name, issued in (("ca", pki.ca), ("server", pki.server)):
        (directory / f"{name}.pem").write_bytes(issued.cert)
        (directory / f"{name}-key.pem").write_bytes(issued.key)
    return pki


def _check(pki: Pki, port: int, client: Issued | None) -> health_pb2.HealthCheckResponse:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert,
        private_key=client.key if client else None,
        certificate_chain=client.cert if client else None,
    )
    with grpc.secure_channel(
        f"127.0.0.1:{port}", credentials, options=[("grpc.ssl_target_name_override", "localhost")]
    ) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)


def _start(tmp_path: Path, pki: Pki, mutual: bool) -> ServerProcess:
    env = {
        "BACKHAUL_TLS_CERT_FILE": str(pki.directory / "server.pem"),
        "BACKHAUL_TLS_KEY_FILE": str(pki.directory / "server-key.pem"),
    }
    if mutual:
        env["BACKHAUL_TLS_CLIENT_CA_FILE"] = str(pki.directory / "ca.pem")
    server = ServerProcess(tmp_path, extra_env=env)
    server.start_with(lambda port: _check(pki, port, pki.client))
    return server


@pytest.fixture
def tls_server(tmp_path: Path, pki: Pki) -> Iterator[ServerProcess]:
    server = _start(tmp_path, pki, mutual=False)
    yield server
    server.stop()


@pytest.fixture
def mtls_server(tmp_path: Path, pki: Pki) -> Iterator[ServerProcess]:
    server = _start(tmp_path, pki, mutual=True)
    yield server
    server.stop()


def test_tls_serves_and_refuses_plaintext(tls_server: ServerProcess, pki: Pki) -> None:
    assert _check(pki, tls_server.grpc_port, None).status == health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(tls_server.target) as channel, pytest.raises(grpc.RpcError):
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)


def test_mutual_tls_accepts_a_trusted_client_certificate(mtls_server: ServerProcess, pki: Pki) -> None:
    assert _check(pki, mtls_server.grpc_port, pki.client).status == health_pb2.HealthCheckResponse.SERVING


def test_mutual_tls_refuses_a_client_without_certificate(mtls_server: ServerProcess, pki: Pki) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _check(pki, mtls_server.grpc_port, None)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_an_untrusted_client_certificate(mtls_server: ServerProcess, pki: Pki) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _check(pki, mtls_server.grpc_port, pki.stranger)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
