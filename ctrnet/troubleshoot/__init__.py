"""Troubleshooting: packet captures (pcap files, tcpdump's line format, a host/port filter),
packet traces hop by hop, the doctor's checks over a backend's observations, and pictures of
the topology. Backend-neutral: the backends supply captures and trace events, these modules
read, judge and render them.
"""
