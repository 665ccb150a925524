# SPDX-License-Identifier: Apache-2.0
# Rolling live patch rollout: apply klp.patched (install + transition complete + ready) batch by
# batch; the first batch that does not reach 'ready' fails, and every later batch is skipped.
#   salt-run state.orchestrate orch.klp_rollout pillar='{"target": "web*", "batch": 2}'
# Pillar: target (glob, default '*'), batch (minions per batch, default 1), timeout (seconds a
# minion may take to become ready, default 60), version (pin VERSION-RELEASE).
{% set target = salt['pillar.get']('target', '*') %}
{% set size = salt['pillar.get']('batch', 1) | int %}
{% set minions = salt['saltutil.runner']('manage.up', tgt=target) | sort %}
{% set klp = {'timeout': salt['pillar.get']('timeout', 60)} %}
{% if salt['pillar.get']('version') %}{% do klp.update({'version': salt['pillar.get']('version')}) %}{% endif %}
{% for start in range(0, minions | length, size) %}
klp-batch-{{ loop.index }}:
  salt.state:
    - tgt: {{ minions[start:start + size] | json }}
    - tgt_type: list
    - sls: klp.patched
    - pillar: {{ {'klp': klp} | json }}
{% if not loop.first %}
    - require:
      - salt: klp-batch-{{ loop.index - 1 }}
{% endif %}
{% else %}
klp-no-minions:
  test.fail_without_changes:
    - name: no minion matching {{ target }} is up
{% endfor %}
