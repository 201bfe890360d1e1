"""Registers the backhaul.v1 services from their descriptors.

A servicer is a plain object with one async method per RPC it implements, named as in the .proto. Every
RPC of the contract is registered: the ones a servicer does not (yet) implement answer UNIMPLEMENTED with a
message saying that the capability has not landed, so clients can be written against the whole contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass

from backhaul.v1 import customs_pb2, insights_pb2, labels_pb2, rates_pb2, tracking_pb2
from service.errors import Unimplemented

CONTRACT_FILES: tuple[FileDescriptor, ...] = (
    rates_pb2.DESCRIPTOR,
    labels_pb2.DESCRIPTOR,
    customs_pb2.DESCRIPTOR,
    tracking_pb2.DESCRIPTOR,
    insights_pb2.DESCRIPTOR,
)


def contract_services() -> list[ServiceDescriptor]:
    return [service for file in CONTRACT_FILES for service in file.services_by_name.values()]


def _unimplemented(method: MethodDescriptor) -> Any:
    message = (
        f"{method.containing_service.full_name}/{method.name} is part of the API contract "
        "but has not landed in this release yet"
    )
    if method.server_streaming:

        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            raise Unimplemented(message)
            yield  # pragma: no cover - makes this an async generator

        return stream

    async def unary(request: Any, context: Any) -> Any:
        raise Unimplemented(message)

    return unary


def service_handler(service: ServiceDescriptor, servicer: object | None) -> grpc.GenericRpcHandler[Any, Any]:
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        behavior = getattr(servicer, method.name, None) or _unimplemented(method)
        request_type = GetMessageClass(method.input_type)
        response_type = GetMessageClass(method.output_type)
        make = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = make(
            behavior,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def register_contract(server: grpc.aio.Server, servicers: Mapping[str, object]) -> list[str]:
    """Register every contract service (`servicers` by short service name); returns full service names."""
    unknown = set(servicers) - {s.name for s in contract_services()}
    if unknown:
        raise ValueError(f"servicers for services not in the contract: {sorted(unknown)}")
    names = []
    for service in contract_services():
        server.add_generic_rpc_handlers((service_handler(service, servicers.get(service.name)),))
        names.append(service.full_name)
    return names
