# SPDX-License-Identifier: Apache-2.0
# Turn on the klp beacon (events on status, active patch or reboot-needed changes).
klp-beacon:
  beacon.present:
    - name: klp
    - save: True
    - interval: {{ salt['pillar.get']('klp:beacon_interval', 10) }}
