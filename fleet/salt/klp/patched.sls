# SPDX-License-Identifier: Apache-2.0
# The newest live patch for the running kernel, installed and its transition complete.
# Pillar (optional): klp:version pins VERSION-RELEASE; klp:timeout seconds to wait (default 60).
{% set klp = salt['pillar.get']('klp', {}) %}
klp-patched:
  klp.patched:
    - timeout: {{ klp.get('timeout', 60) }}
{% if klp.get('version') %}
    - version: "{{ klp['version'] }}"
{% endif %}

klp-ready:
  klp.ready:
    - timeout: {{ klp.get('timeout', 60) }}
    - require:
      - klp: klp-patched
