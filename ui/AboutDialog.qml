// What Daub is, its version, and the notices of what it carries (the CLIP
// tokenizer's merge list, compiled into the engine, is MIT-licensed).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Dialog {
    id: root

    /// The licence notices shown (ModelController.licenseNotices()).
    property string notices: ""

    title: qsTr("About Daub")
    modal: true
    standardButtons: Dialog.Close
    width: Math.min(620, parent ? parent.width - 80 : 620)
    anchors.centerIn: parent

    ColumnLayout {
        anchors.fill: parent
        spacing: 10
        Label {
            Layout.fillWidth: true
            text: qsTr("Daub %1 \u2014 local, offline Stable Diffusion.").arg(Qt.application.version)
            font.weight: Font.DemiBold
            color: Theme.text
            wrapMode: Text.Wrap
        }
        Label {
            Layout.fillWidth: true
            text: qsTr("Daub carries the merge list of OpenAI's CLIP tokenizer, so a single model file needs nothing beside it. Its licence:")
            color: Theme.mutedText
            wrapMode: Text.Wrap
        }
        ScrollView {
            Layout.fillWidth: true
            Layout.preferredHeight: 240
            TextArea {
                objectName: "noticesArea"
                text: root.notices
                readOnly: true
                wrapMode: TextEdit.Wrap
                selectByMouse: true
                font.family: "monospace"
                font.pointSize: Qt.application.font.pointSize * 0.85
            }
        }
    }
}
