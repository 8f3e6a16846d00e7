/** The microphone: open it with a readable Failure when the browser says no. */
import { insecureContext, microphoneFailure, SoftphoneError } from './failure.ts';

export async function openMicrophone(deviceId?: string): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new SoftphoneError(insecureContext());
  const audio: MediaTrackConstraints = {
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
  };
  if (deviceId) audio.deviceId = { ideal: deviceId };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video: false });
  } catch (error) {
    const named = error instanceof Error ? error : { name: 'Error', message: String(error) };
    throw new SoftphoneError(microphoneFailure(named), { cause: error });
  }
}

/** A peer connection configuration for the gateway: ICE-lite on a public address, one bundled audio m-line. */
export function peerConnectionConfig(iceServers: RTCIceServer[]): RTCConfiguration {
  return { iceServers, rtcpMuxPolicy: 'require', bundlePolicy: 'max-bundle' };
}
