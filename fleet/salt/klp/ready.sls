# SPDX-License-Identifier: Apache-2.0
# No live patch transition in progress (waits up to pillar klp:timeout seconds, default 60).
{% set klp = salt['pillar.get']('klp', {}) %}
klp-ready:
  klp.ready:
    - timeout: {{ klp.get('timeout', 60) }}
{% if klp.get('revert') %}
    - revert: True
{% endif %}
