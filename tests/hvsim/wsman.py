# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WS-Management responders of one host: Enumerate/Pull/Release, Get and Invoke over the lab.

Requests arrive parsed (soap.WsmanRequest); replies leave as envelope bytes, or a soap.WsmanFault is raised.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from hvsim import classes, cimxml, soap, wql
from hvsim.classes import CimInstance
from hvsim.cluster import ClusterRefusal
from hvsim.lab import Lab
from hvsim.methods import CLUSTER_SIGNATURES, SIGNATURES, UNMODELLED, ClusterService, MethodResult, MigrationService, Ref
from hvsim.xmlutil import ANONYMOUS, WMI_URI_PREFIX, WQL_DIALECT, attr, class_uri, local_name, namespace_of, qname, text

ENUMERATE = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate'
PULL = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull'
RELEASE = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release'
GET = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get'
DEFAULT_RESPONSE_LIMIT = 153600  # DSP0226 minimum when the request states no MaxEnvelopeSize
ENVELOPE_OVERHEAD = 2048  # headers and wrappers around the items of a batch
MAX_BATCH_ITEMS = 32000
SERVICE_CLASS = 'Msvm_VirtualSystemMigrationService'
_FROM = re.compile(r'\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)', re.IGNORECASE)


# Rendering


def _datetime(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + f'{moment.microsecond // 1000:03d}Z'


def _interval(seconds: float) -> str:
    days, rest = divmod(max(0.0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    return f'P{int(days)}DT{int(hours)}H{int(minutes)}M{rest:.3f}S'


def _scalar(value: Any, cim_type: str) -> str:
    if cim_type == 'datetime':
        return f'<cim:Datetime>{_datetime(value)}</cim:Datetime>'
    if cim_type == 'interval':
        return f'<cim:Interval>{_interval(value)}</cim:Interval>'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return text(value)


def property_xml(prefix: str, name: str, value: Any, cim_type: str, namespace: str = '') -> str:
    """One property: nil for null (and for an empty array), one element per array item, an EPR for a reference,
    child elements (in the same namespace) for an embedded object."""
    if value is None or (isinstance(value, list) and not value):
        return f'<{prefix}:{name} xsi:nil="true"/>'
    if cim_type == 'ref':
        return reference_xml(f'{prefix}:{name}', namespace, value)
    if cim_type == 'embedded':
        children = ''.join(property_xml(prefix, key, value.values[key], value.types[key], namespace) for key in value.values)
        return f'<{prefix}:{name} xsi:type="{prefix}:{value.class_name}_Type">{children}</{prefix}:{name}>'
    if cim_type.endswith('[]'):
        return ''.join(f'<{prefix}:{name}>{_scalar(item, cim_type[:-2])}</{prefix}:{name}>' for item in value)
    return f'<{prefix}:{name}>{_scalar(value, cim_type)}</{prefix}:{name}>'


def instance_xml(instance: CimInstance, namespace: str, element: str | None = None) -> str:
    """An instance as WinRM renders it: properties in the class URI namespace, sorted by name.

    element names an out parameter (already prefixed) that carries the instance instead of <p:Class>.
    """
    uri = class_uri(namespace, instance.class_name)
    prefix = 'v' if element else 'p'
    tag = element or f'p:{instance.class_name}'
    parts = [f'<{tag} xmlns:{prefix}={attr(uri)} xsi:type="{prefix}:{instance.class_name}_Type">']
    for name in sorted(instance.values, key=str.lower):
        parts.append(property_xml(prefix, name, instance.values[name], instance.types[name], namespace))
    parts.append(f'</{tag}>')
    return ''.join(parts)


def reference_xml(element: str, namespace: str, ref: Ref) -> str:
    """An endpoint reference (REF out parameter); WinRM adds the __cimnamespace selector."""
    selectors = ''.join(f'<w:Selector Name={attr(name)}>{text(value)}</w:Selector>' for name, value in ref.selectors.items())
    selectors += f'<w:Selector Name="__cimnamespace">{text(namespace)}</w:Selector>'
    return (
        f'<{element}><a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters>'
        f'<w:ResourceURI>{text(class_uri(namespace, ref.class_name))}</w:ResourceURI>'
        f'<w:SelectorSet>{selectors}</w:SelectorSet></a:ReferenceParameters></{element}>'
    )


# Requests


@dataclass
class Resource:
    """A WMI resource URI split into namespace and class ('*' for the WQL wildcard)."""

    namespace: str
    class_name: str


def parse_resource(uri: str) -> Resource:
    """Split .../wmi/<namespace>/<Class>; anything else is unreachable."""
    if not uri.lower().startswith(WMI_URI_PREFIX.lower()):
        raise soap.destination_unreachable(f'The resource URI {uri or "(none)"} is not served by this host.')
    path = uri[len(WMI_URI_PREFIX):].strip('/')
    namespace, sep, class_name = path.rpartition('/')
    if not sep or not namespace or not class_name:
        raise soap.destination_unreachable(f'The resource URI {uri} does not name a WMI class.')
    return Resource(namespace, class_name)


def operation_key(request: soap.WsmanRequest) -> str:
    """The counter/fault key: Enumerate:<Class>, Pull, Release, Get:<Class>, Invoke:<Method>, or the action's last segment."""
    resource_class = request.resource_uri.rstrip('/').rsplit('/', 1)[-1] or '?'
    if request.action == ENUMERATE:
        query = ''
        if request.body is not None:
            for child in request.body:
                if local_name(child.tag) == 'Filter':
                    query = child.text or ''
        match = _FROM.search(query)
        return f'Enumerate:{match.group(1) if match else resource_class}'
    if request.action == PULL:
        return 'Pull'
    if request.action == RELEASE:
        return 'Release'
    if request.action == GET:
        return f'Get:{resource_class}'
    if request.resource_uri and request.action.startswith(request.resource_uri.rstrip('/') + '/'):
        return f'Invoke:{request.action.rsplit("/", 1)[-1]}'
    return request.action.rsplit('/', 1)[-1] or 'Unknown'


def _is_nil(element: Element) -> bool:
    return element.get(qname('xsi', 'nil'), '').lower() == 'true'


def _ref(element: Element) -> Ref | None:
    params = element.find(qname('a', 'ReferenceParameters'))
    if params is None:
        return None
    uri = params.find(qname('w', 'ResourceURI'))
    if uri is None or not (uri.text or '').strip():
        return None
    selectors = {}
    selector_set = params.find(qname('w', 'SelectorSet'))
    for selector in (selector_set.findall(qname('w', 'Selector')) if selector_set is not None else []):
        selectors[selector.get('Name', '')] = (selector.text or '').strip()
    return Ref(uri.text.strip().rstrip('/').rsplit('/', 1)[-1], selectors)


def parse_uint8_array(elements: list[Element]) -> bytes:
    """The two forms of docs/wsman-wire.md: one decimal element per byte, or a single base64 element."""
    texts = [(element.text or '').strip() for element in elements]
    if len(texts) == 1 and not (texts[0].isdigit() and int(texts[0]) <= 255):
        try:
            return base64.b64decode(texts[0], validate=True)
        except binascii.Error as exc:
            raise ValueError('neither a decimal byte nor base64') from exc
    values = []
    for item in texts:
        if not item.isdigit() or int(item) > 255:
            raise ValueError(f'{item!r} is not a uint8')
        values.append(int(item))
    return bytes(values)


def _bad_parameter(detail: str) -> soap.WsmanFault:
    """WBEM_E_INVALID_METHOD_PARAMETERS (0x8004102F)."""
    return soap.wmi_error(2147749935, f'Invalid method Parameter(s) {detail}', wsman_code=2150858752)


def _type_mismatch(detail: str) -> soap.WsmanFault:
    """WBEM_E_TYPE_MISMATCH (0x80041005)."""
    return soap.wmi_error(2147749893, f'Type mismatch {detail}', wsman_code=2150858752)


def _uint32(name: str, element: Element) -> int:
    raw = (element.text or '').strip()
    if not raw.isdigit() or int(raw) >= 1 << 32:
        raise _type_mismatch(f'({name}: {raw!r} is not a uint32)')
    return int(raw)


def convert_params(method: str, root: Element, uri: str, signature: dict[str, str]) -> dict[str, Any]:
    """Method input elements -> the plain values the method's signature describes."""
    grouped: dict[str, list[Element]] = {}
    for child in root:
        if namespace_of(child.tag) != uri:
            raise _bad_parameter(f'({local_name(child.tag)} is not in the namespace {uri})')
        grouped.setdefault(local_name(child.tag), []).append(child)
    values: dict[str, Any] = {name: None for name in signature}
    for name, elements in grouped.items():
        kind = signature.get(name)
        if kind is None:
            raise _bad_parameter(f'({method} has no parameter {name})')
        present = [element for element in elements if not _is_nil(element)]
        if not present:
            continue
        if kind in ('ref', 'string', 'uint32') and len(present) > 1:
            raise _type_mismatch(f'({name} is not an array)')
        if kind == 'uint32':
            values[name] = _uint32(name, present[0])
        elif kind == 'ref':
            values[name] = _ref(present[0])
        elif kind == 'string':
            values[name] = present[0].text or ''
        elif kind == 'string[]':
            values[name] = [element.text or '' for element in present]
        elif kind == 'uint8[]':
            try:
                values[name] = parse_uint8_array(present)
            except ValueError as exc:
                raise _type_mismatch(f'({name}: {exc})') from exc
    return values


@dataclass
class Enumeration:
    """A server-side enumeration: the rendered items left to hand out."""

    items: list[str]
    namespace: str
    fragment: bool
    last_used: float


class WsmanResponder:
    """Everything WS-Management for one host, over the shared lab."""

    def __init__(self, lab: Lab, host_name: str, clock=time.monotonic):
        self.lab = lab
        self.host_name = host_name
        self.clock = clock
        self.service = MigrationService(lab, host_name)
        self.cluster = ClusterService(lab, host_name)
        self._enumerations: dict[str, Enumeration] = {}
        self._lock = threading.Lock()

    @property
    def host(self):
        """The lab host this responder serves."""
        return self.lab.host(self.host_name)

    def reset(self) -> None:
        """Forget every enumeration context."""
        with self._lock:
            self._enumerations.clear()

    def handle(self, request: soap.WsmanRequest, fail_at: int | None = None, fail_message: str | None = None) -> bytes:
        """The reply envelope for a request; raises soap.WsmanFault."""
        limit = request.max_envelope_size or DEFAULT_RESPONSE_LIMIT
        if request.action == ENUMERATE:
            action, body = self.enumerate(request, limit)
        elif request.action == PULL:
            action, body = self.pull(request, limit)
        elif request.action == RELEASE:
            action, body = self.release(request)
        elif request.action == GET:
            action, body = self.get(request)
        elif request.resource_uri and request.action.startswith(request.resource_uri.rstrip('/') + '/'):
            action, body = self.invoke(request, fail_at, fail_message)
        else:
            raise soap.action_not_supported(request.action)
        reply = soap.envelope(action, request.message_id, body)
        if len(reply) > limit:
            raise soap.encoding_limit(f'The response is {len(reply)} bytes; MaxEnvelopeSize is {limit}.')
        return reply

    def _namespace(self, resource: Resource) -> str:
        """The host's spelling of the namespace, or the invalid-namespace fault (Hyper-V role missing)."""
        for namespace in self.host.wmi_namespaces:
            if namespace.lower() == resource.namespace.lower():
                return namespace
        raise soap.invalid_namespace(resource.namespace)

    # Enumeration

    def enumerate(self, request: soap.WsmanRequest, limit: int) -> tuple[str, str]:
        """Enumerate, optionally optimized (first batch in the response)."""
        resource = parse_resource(request.resource_uri)
        namespace = self._namespace(resource)
        body = request.body
        if body is None or body.tag != qname('n', 'Enumerate'):
            raise soap.invalid_body('Enumerate needs an n:Enumerate body.')
        optimize = body.find(qname('w', 'OptimizeEnumeration')) is not None
        max_text = (body.findtext(qname('w', 'MaxElements')) or '').strip()
        filter_element = body.find(qname('w', 'Filter'))
        if filter_element is None:
            filter_element = body.find(qname('n', 'Filter'))
        query = None
        if filter_element is not None:
            if filter_element.get('Dialect', WQL_DIALECT) != WQL_DIALECT:
                raise soap.WsmanFault('n:FilterDialectRequestedUnavailable', 'The filter dialect is not supported for this resource.',
                                      wsman_code=2150858777)
            try:
                query = wql.parse(filter_element.text or '')
            except wql.WqlError as exc:
                raise soap.invalid_query(str(exc)) from exc
        elif resource.class_name == '*':
            raise soap.WsmanFault('n:CannotProcessFilter', 'The wildcard resource URI needs a WQL filter.', wsman_code=2150858778)
        class_name = classes.canonical_class(query.class_name if query else resource.class_name, namespace)
        if class_name is None:
            raise soap.invalid_class(query.class_name if query else resource.class_name)
        if query is not None:
            # WMI checks the names against the class queried, even when it has no instances.
            schema = {name.lower() for name in classes.SCHEMAS[class_name]}
            unknown = sorted(name for name in query.properties | set(query.columns or []) if name.lower() not in schema)
            if unknown:
                raise soap.invalid_query(f"{', '.join(unknown)}: no such property of {query.class_name}")
        found = classes.instances(self.lab, self.host, class_name)
        try:
            selected = [instance for instance in found if query is None or query.matches(instance.values)]
        except wql.WqlError as exc:
            raise soap.invalid_query(str(exc)) from exc
        fragment = bool(query and query.columns)
        items = [self._item(instance, namespace, query.columns if fragment else None) for instance in selected]
        context = f'uuid:{str(uuid.uuid4()).upper()}'
        state = Enumeration(items, namespace, fragment, self.clock())
        with self._lock:
            self._expire()
            self._enumerations[context] = state
        parts = [f'<n:EnumerateResponse><n:EnumerationContext>{context}</n:EnumerationContext>']
        if optimize:
            batch, done = self._batch(context, state, int(max_text) if max_text.isdigit() else 20, limit)
            parts.append(f'<w:Items>{batch}</w:Items>' + ('<w:EndOfSequence/>' if done else ''))
        parts.append('</n:EnumerateResponse>')
        return ENUMERATE + 'Response', ''.join(parts)

    @staticmethod
    def _item(instance: CimInstance, namespace: str, columns: list[str] | None) -> str:
        if not columns:
            return instance_xml(instance, namespace)
        lookup = {name.lower(): name for name in instance.values}
        parts = []
        for column in columns:
            name = lookup.get(column.lower())
            if name is None:
                raise soap.invalid_query(f"'{column}' is not a property of {instance.class_name}")
            parts.append(property_xml('p', name, instance.values[name], instance.types[name], namespace).replace('<p:', '<').replace('</p:', '</'))
        return '<w:XmlFragment>' + ''.join(parts) + '</w:XmlFragment>'

    def _expire(self) -> None:
        """Drop contexts idle for longer than the host's expiry (caller holds the lock)."""
        expiry = self.host.enumeration_expiry_s
        now = self.clock()
        for context in [key for key, value in self._enumerations.items() if now - value.last_used > expiry]:
            del self._enumerations[context]

    def _batch(self, context: str, state: Enumeration, max_elements: int, limit: int) -> tuple[str, bool]:
        """Take up to max_elements items that fit in the envelope limit; True when the enumeration is done."""
        max_elements = max(1, min(max_elements, MAX_BATCH_ITEMS))
        taken, size = [], ENVELOPE_OVERHEAD
        with self._lock:
            while state.items and len(taken) < max_elements and size + len(state.items[0]) <= limit:
                item = state.items.pop(0)
                taken.append(item)
                size += len(item)
            if state.items and not taken:
                raise soap.encoding_limit(f'An item of {len(state.items[0])} bytes does not fit in MaxEnvelopeSize {limit}.')
            state.last_used = self.clock()
            done = not state.items
            if done:
                self._enumerations.pop(context, None)
        return ''.join(taken), done

    def _context(self, request: soap.WsmanRequest, operation: str) -> tuple[str, Enumeration]:
        body = request.body
        if body is None or body.tag != qname('n', operation):
            raise soap.invalid_body(f'{operation} needs an n:{operation} body.')
        context = (body.findtext(qname('n', 'EnumerationContext')) or '').strip()
        with self._lock:
            self._expire()
            state = self._enumerations.get(context)
        if state is None:
            raise soap.invalid_enumeration_context()
        return context, state

    def pull(self, request: soap.WsmanRequest, limit: int) -> tuple[str, str]:
        """Pull the next batch (MaxElements defaults to 1, per DSP0226)."""
        context, state = self._context(request, 'Pull')
        max_text = (request.body.findtext(qname('n', 'MaxElements')) or '').strip()
        batch, done = self._batch(context, state, int(max_text) if max_text.isdigit() else 1, limit)
        ending = '<n:EndOfSequence/>' if done else ''
        context_xml = '' if done else f'<n:EnumerationContext>{context}</n:EnumerationContext>'
        return PULL + 'Response', f'<n:PullResponse>{context_xml}<n:Items>{batch}</n:Items>{ending}</n:PullResponse>'

    def release(self, request: soap.WsmanRequest) -> tuple[str, str]:
        """Release a context early."""
        context, _state = self._context(request, 'Release')
        with self._lock:
            self._enumerations.pop(context, None)
        return RELEASE + 'Response', ''

    # Get and Invoke

    def _select(self, class_name: str, selectors: dict[str, str]) -> CimInstance:
        """The one instance whose keys the selectors name exactly (__cimnamespace is ignored). Missing or unknown keys are
        w:InvalidSelectors; every key named but no instance matching is Windows' ERROR_WSMAN_RESOURCE_NOT_FOUND."""
        given = {name.lower(): value for name, value in selectors.items() if name.lower() != '__cimnamespace'}
        found = classes.instances(self.lab, self.host, class_name)
        keys = {key.lower() for key in classes.KEYS.get(class_name, ())}
        if not given or set(given) != keys:
            raise soap.invalid_selectors(f'Expected selectors: {", ".join(sorted(classes.KEYS.get(class_name, ()))) or "none"}.')
        for instance in found:
            values = {key.lower(): str(value) for key, value in instance.key_values().items()}
            if all(values.get(name, '').lower() == value.lower() for name, value in given.items()):
                return instance
        raise soap.resource_not_found()

    def get(self, request: soap.WsmanRequest) -> tuple[str, str]:
        """Transfer Get of one instance by its keys."""
        resource = parse_resource(request.resource_uri)
        namespace = self._namespace(resource)
        class_name = classes.canonical_class(resource.class_name, namespace)
        if class_name is None or resource.class_name == '*':
            raise soap.invalid_class(resource.class_name)
        instance = self._select(class_name, request.selectors)
        return GET + 'Response', instance_xml(instance, namespace)

    @staticmethod
    def _signature(class_name: str, method: str) -> dict[str, str]:
        """The method's parameters, or WBEM_E_INVALID_METHOD when the class has no such (modelled) method."""
        if class_name == SERVICE_CLASS and (method in SIGNATURES or method in UNMODELLED):
            return SIGNATURES.get(method, {})
        if (class_name, method) in CLUSTER_SIGNATURES:
            return CLUSTER_SIGNATURES[(class_name, method)]
        raise soap.wmi_error(2147749934, f'Invalid method {method} ', wsman_code=2150858752)

    def invoke(self, request: soap.WsmanRequest, fail_at: int | None, fail_message: str | None) -> tuple[str, str]:
        """A method call on the migration service instance, or on a cluster group or node."""
        resource = parse_resource(request.resource_uri)
        namespace = self._namespace(resource)
        method = request.action.rsplit('/', 1)[-1]
        class_name = classes.canonical_class(resource.class_name, namespace)
        if class_name is None:
            raise soap.invalid_class(resource.class_name)
        signature = self._signature(class_name, method)
        target = self._select(class_name, request.selectors)
        uri = class_uri(namespace, resource.class_name)
        root = request.body
        if root is None or local_name(root.tag) != f'{method}_INPUT' or namespace_of(root.tag).lower() != uri.lower():
            raise soap.invalid_body(f'Expected a {method}_INPUT element in the namespace {uri}.')
        params = convert_params(method, root, namespace_of(root.tag), signature)
        if class_name == SERVICE_CLASS:
            result = self.service.invoke(method, params, fail_at, fail_message)
        else:
            result = self._cluster_invoke(class_name, method, target.values['Name'], params, fail_at, fail_message)
        return request.action + 'Response', self._output(method, uri, namespace, result)

    def _cluster_invoke(self, class_name: str, method: str, key: str, params: dict[str, Any], fail_at: int | None,
                        fail_message: str | None) -> MethodResult:
        """A cluster refusal becomes the WMI fault carrying its Win32 code (void methods have no ReturnValue for it)."""
        try:
            return self.cluster.invoke(class_name, method, key, params, fail_at, fail_message)
        except ClusterRefusal as refusal:
            raise soap.wmi_error(refusal.code, refusal.message, wsman_code=2150858752, error_type='Win32') from refusal

    def _output(self, method: str, uri: str, namespace: str, result: MethodResult) -> str:
        parts = [f'<p:{method}_OUTPUT xmlns:p={attr(uri)}>']
        for out in result.outputs:
            element = f'p:{out.name}'
            if out.kind == 'instances':
                parts.extend(instance_xml(instance, namespace, element) for instance in out.value)
            elif out.kind == 'embedded':
                if self.host.reasons_encoding == 'cimxml':
                    parts.extend(f'<{element}>{text(cimxml.render_instance(i.class_name, i.values, i.types))}</{element}>' for i in out.value)
                else:
                    parts.extend(instance_xml(instance, namespace, element) for instance in out.value)
            elif out.kind == 'uint8[]':
                if self.host.blob_encoding == 'base64':
                    parts.append(f'<{element}>{base64.b64encode(out.value).decode()}</{element}>')
                else:
                    parts.append(''.join(f'<{element}>{byte}</{element}>' for byte in out.value))
            elif out.kind == 'boolean':
                parts.append(f'<{element}>{"true" if out.value else "false"}</{element}>')
            elif out.kind == 'ref':
                parts.append(reference_xml(element, namespace, out.value))
        if result.return_value is not None:
            parts.append(f'<p:ReturnValue>{result.return_value}</p:ReturnValue>')
        parts.append(f'</p:{method}_OUTPUT>')
        return ''.join(parts)
