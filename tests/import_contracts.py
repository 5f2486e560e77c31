"""Import-linter contract types of our own (configured in pyproject.toml, run by `make lint`).

- ``acyclic_modules``: no import cycle between modules, however long.
- ``acyclic_packages``: no import cycle between the children of any package either, counting an
  import by any module inside a child as an import by that child (``hub.images`` and
  ``hub.store`` may not import each other even through different modules).
- ``domain_private``: in each domain package (a child of ``containers``), the modules named in
  ``private`` (queries, SQL, routes) are imported only from inside that domain or by the modules
  listed in ``composers`` (the app, which mounts every router): other domains go through its
  public functions (``service``) and types. Modules named in ``thin`` (routers) import none of
  their own domain's private modules either: a route calls a service function.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    return _components(edges)


def _components(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node of a directed graph."""
    modules = set(edges)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, sorted(edges[root])))
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


class AcyclicModulesContract(Contract):
    """No module of ``packages`` imports itself through other modules."""

    type_name = "acyclic_modules"
    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots: list[str] = self.packages  # type: ignore[assignment]
        modules = {m for m in graph.modules if m.split(".")[0] in roots}
        cycles = _cycles(graph, modules)
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"{len(cycle)} modules import each other: {', '.join(cycle)}")
            output.new_line()


class AcyclicPackagesContract(Contract):
    """In every package of ``packages`` (and every subpackage), the children import each other
    without a cycle, an import from or of a child's descendant counting as the child's."""

    type_name = "acyclic_packages"
    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots: list[str] = self.packages  # type: ignore[assignment]
        modules = {m for m in graph.modules if m.split(".")[0] in roots}
        found: list[dict[str, Any]] = []
        for package in sorted(m for m in modules if graph.find_children(m)):
            prefix = package + "."

            def child(module: str, prefix: str = prefix) -> str | None:
                if not module.startswith(prefix):
                    return None
                return prefix + module[len(prefix) :].split(".")[0]

            edges: dict[str, set[str]] = {c: set() for c in graph.find_children(package)}
            links: dict[tuple[str, str], tuple[str, str]] = {}
            for module in modules:
                source = child(module)
                if source is None:
                    continue
                for imported in graph.find_modules_directly_imported_by(module):
                    target = child(imported)
                    if target is not None and target != source:
                        edges[source].add(target)
                        links.setdefault((source, target), (module, imported))
            for component in _components(edges):
                members = set(component)
                found.append(
                    {
                        "package": package,
                        "children": component,
                        "links": sorted(
                            f"{a} -> {b}" for (s, t), (a, b) in links.items() if {s, t} <= members
                        ),
                    }
                )
        return ContractCheck(kept=not found, metadata={"cycles": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(
                f"in {cycle['package']}, {len(cycle['children'])} children import each other: "
                + ", ".join(cycle["children"])
            )
            for link in cycle["links"]:
                output.print_error(f"    {link}")
            output.new_line()


class DomainPrivateContract(Contract):
    """A domain's private modules are imported only from inside the domain (or by a composer)."""

    type_name = "domain_private"
    containers = fields.ListField(subfield=fields.StringField())
    private = fields.ListField(subfield=fields.StringField())
    composers = fields.ListField(subfield=fields.StringField(), required=False)
    thin = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        containers: list[str] = self.containers  # type: ignore[assignment]
        private: list[str] = self.private  # type: ignore[assignment]
        composers = set(self.composers or [])  # type: ignore[call-overload]
        thin = set(self.thin or [])  # type: ignore[call-overload]
        broken: list[dict[str, Any]] = []
        for container in containers:
            depth = container.count(".") + 1
            for module in sorted(graph.modules):
                parts = module.split(".")
                if len(parts) != depth + 2 or not module.startswith(container + "."):
                    continue
                if parts[-1] not in private:
                    continue
                domain = ".".join(parts[: depth + 1])
                for importer in sorted(graph.find_modules_that_directly_import(module)):
                    inside = importer == domain or importer.startswith(domain + ".")
                    routed = importer.split(".")[-1] in thin
                    if (inside and not routed) or importer in composers:
                        continue
                    lines = graph.get_import_details(importer=importer, imported=module)
                    broken.append(
                        {
                            "importer": importer,
                            "imported": module,
                            "line": lines[0]["line_number"] if lines else 0,
                        }
                    )
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            output.print_error(
                f"{item['importer']} (l. {item['line']}) imports {item['imported']}: "
                "use that domain's service"
            )
        output.new_line()
